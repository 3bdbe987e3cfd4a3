package config

import "fmt"

// Where static tokens come from (StaticToken.Source).
const (
	TokenSourceConfig = "config"
	TokenSourceEnv    = "environment"
)

// StaticToken is one bearer token of a tenant that comes from the
// configuration rather than the store: an entry of tenants[].tokens or
// SCIMBRIDGE_TOKEN. It is revoked by removing it there.
type StaticToken struct {
	Name   string
	Source string // TokenSourceConfig or TokenSourceEnv
	// Field is where it is set: "tenants[0].tokens[1]" or "SCIMBRIDGE_TOKEN".
	Field string
	Hash  [32]byte
}

// StaticTokens returns tenant's static tokens: SCIMBRIDGE_TOKEN's (default
// tenant only), then those of the config file in order.
func (c *Config) StaticTokens(tenant string) []StaticToken {
	var out []StaticToken
	if tenant == DefaultTenant && c.envTokenHash != nil {
		out = append(out, StaticToken{Name: EnvToken, Source: TokenSourceEnv, Field: EnvToken, Hash: *c.envTokenHash})
	}
	for i, t := range c.Tenants {
		if t.Name != tenant {
			continue
		}
		for j, tok := range t.Tokens {
			out = append(out, StaticToken{Name: tok.Name, Source: TokenSourceConfig, Field: fmt.Sprintf("tenants[%d].tokens[%d]", i, j), Hash: tok.Hash})
		}
	}
	return out
}

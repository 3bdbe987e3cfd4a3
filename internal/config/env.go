package config

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
)

// Environment variables that override the config file.
const (
	EnvListen    = "SCIMBRIDGE_LISTEN"
	EnvDataDir   = "SCIMBRIDGE_DATA_DIR"
	EnvBaseURL   = "SCIMBRIDGE_BASE_URL"
	EnvStorePath = "SCIMBRIDGE_STORE_PATH"
	// EnvMongoURI sets store.uri and selects the MongoDB store.
	EnvMongoURI     = "SCIMBRIDGE_MONGO_URI"
	EnvMaxBodyBytes = "SCIMBRIDGE_MAX_BODY_BYTES"
	EnvMaxResults   = "SCIMBRIDGE_MAX_RESULTS"
	EnvLogLevel     = "SCIMBRIDGE_LOG_LEVEL"
	EnvLogFormat    = "SCIMBRIDGE_LOG_FORMAT"
	// EnvBulkMaxOperations and EnvBulkMaxPayloadBytes override
	// bulk.maxOperations and bulk.maxPayloadBytes.
	EnvBulkMaxOperations   = "SCIMBRIDGE_BULK_MAX_OPERATIONS"
	EnvBulkMaxPayloadBytes = "SCIMBRIDGE_BULK_MAX_PAYLOAD_BYTES"
	// EnvPatchMaxOperations and EnvPatchMaxMemberValues override
	// patch.maxOperations and patch.maxMemberValues.
	EnvPatchMaxOperations   = "SCIMBRIDGE_PATCH_MAX_OPERATIONS"
	EnvPatchMaxMemberValues = "SCIMBRIDGE_PATCH_MAX_MEMBER_VALUES"
	// EnvToken holds a plain bearer token accepted for the default tenant.
	EnvToken = "SCIMBRIDGE_TOKEN"
	// EnvAdminToken holds a plain bearer token accepted by the admin API.
	EnvAdminToken = "SCIMBRIDGE_ADMIN_TOKEN"
)

// applyEnv applies the SCIMBRIDGE_* overrides that are set (non-empty) and
// returns the problems with their values.
func (c *Config) applyEnv(env func(string) string) []string {
	strs := []struct {
		name string
		dst  *string
	}{
		{EnvListen, &c.Listen},
		{EnvDataDir, &c.DataDir},
		{EnvBaseURL, &c.BaseURL},
		{EnvStorePath, &c.Store.Path},
		{EnvLogLevel, &c.Log.Level},
		{EnvLogFormat, &c.Log.Format},
	}
	for _, s := range strs {
		if v := env(s.name); v != "" {
			*s.dst = v
		}
	}
	if v := strings.TrimSpace(env(EnvMongoURI)); v != "" {
		c.Store.Type, c.Store.URI, c.Store.URIFile = "mongo", v, ""
	}
	var problems []string
	if v := env(EnvMaxBodyBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not an integer", EnvMaxBodyBytes, v))
		} else {
			c.MaxBodyBytes = n
		}
	}
	if v := env(EnvMaxResults); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not an integer", EnvMaxResults, v))
		} else {
			c.MaxResults = n
		}
	}
	if v := env(EnvBulkMaxOperations); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not an integer", EnvBulkMaxOperations, v))
		} else {
			c.Bulk.MaxOperations = n
		}
	}
	if v := env(EnvBulkMaxPayloadBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %q is not an integer", EnvBulkMaxPayloadBytes, v))
		} else {
			c.Bulk.MaxPayloadBytes = n
		}
	}
	for _, e := range []struct {
		name string
		dst  *int
	}{{EnvPatchMaxOperations, &c.Patch.MaxOperations}, {EnvPatchMaxMemberValues, &c.Patch.MaxMemberValues}} {
		if v := env(e.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q is not an integer", e.name, v))
			} else {
				*e.dst = n
			}
		}
	}
	if v := strings.TrimSpace(env(EnvToken)); v != "" {
		h := sha256.Sum256([]byte(v))
		c.envTokenHash = &h
	}
	if v := strings.TrimSpace(env(EnvAdminToken)); v != "" {
		h := sha256.Sum256([]byte(v))
		c.envAdminTokenHash = &h
	}
	return problems
}

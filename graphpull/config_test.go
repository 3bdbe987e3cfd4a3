package graphpull

import (
	"strings"
	"testing"
)

func TestValidateNamesEveryField(t *testing.T) {
	err := Config{TenantID: "bad tenant!", Cloud: "mars", AuthorityHost: "http://login.example", GraphBaseURL: "https://graph.example"}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`graph.tenantId: "bad tenant!" is not a tenant id`,
		"graph.clientId: required",
		"graph.clientSecret: one of clientSecret or certificate is required",
		`graph.cloud: "mars" is not one of global, usgov, usgovdod, china`,
		`graph.authorityHost: "http://login.example" must be an https:// URL`,
		`graph.graphBaseURL: "https://graph.example" has no API version path`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	err = Config{TenantID: "t", ClientID: "c", ClientSecret: "s", Certificate: []byte("x")}.Validate()
	if err == nil || !strings.Contains(err.Error(), "graph.clientSecret: give clientSecret or certificate, not both") {
		t.Fatalf("both: %v", err)
	}
	if err := (Config{TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: "s", Cloud: "China"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEndpointsPerCloud(t *testing.T) {
	for _, tc := range []struct {
		cfg                    Config
		authority, base, scope string
	}{
		{Config{}, "https://login.microsoftonline.com/", "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
		{Config{Cloud: "global"}, "https://login.microsoftonline.com/", "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
		{Config{Cloud: "usgov"}, "https://login.microsoftonline.us/", "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"},
		{Config{Cloud: "usgovdod"}, "https://login.microsoftonline.us/", "https://dod-graph.microsoft.us/v1.0", "https://dod-graph.microsoft.us/.default"},
		{Config{Cloud: "china"}, "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"},
		// Overrides move the hosts, not the token audience.
		{Config{Cloud: "usgov", AuthorityHost: "https://login.example", GraphBaseURL: "https://graph.example/v1.0/"},
			"https://login.example/", "https://graph.example/v1.0", "https://graph.microsoft.us/.default"},
	} {
		a, b, s := tc.cfg.endpoints()
		if a != tc.authority || b != tc.base || s != tc.scope {
			t.Errorf("%+v: got %s %s %s", tc.cfg, a, b, s)
		}
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	if _, err := New(Config{TenantID: "t"}); err == nil || !strings.Contains(err.Error(), "graph.clientId") {
		t.Fatalf("%v", err)
	}
	s, err := New(Config{TenantID: "t", ClientID: "c", ClientSecret: "s", Cloud: "usgovdod"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != "pull:graph" || s.baseURL.String() != "https://dod-graph.microsoft.us/v1.0" {
		t.Fatalf("%s %s", s.Kind(), s.baseURL)
	}
}

func TestOnGraph(t *testing.T) {
	s, err := New(Config{TenantID: "t", ClientID: "c", ClientSecret: "s", GraphBaseURL: "https://graph.example:8443/v1.0"})
	if err != nil {
		t.Fatal(err)
	}
	for link, want := range map[string]string{
		"https://graph.example:8443/v1.0/users/delta?$deltatoken=x": "https://graph.example:8443/v1.0/users/delta?$deltatoken=x",
		"/v1.0/groups/delta?$deltatoken=":                           "https://graph.example:8443/v1.0/groups/delta?$deltatoken=",
		"https://graph.example/v1.0/users/delta":                    "",
		"https://evil.example:8443/v1.0/users/delta":                "",
		"http://graph.example:8443/v1.0/users/delta":                "",
		"https://graph.example:8443/beta/users/delta":               "",
		"": "",
	} {
		if got := s.onGraph(link); got != want {
			t.Errorf("onGraph(%q) = %q, want %q", link, got, want)
		}
	}
}

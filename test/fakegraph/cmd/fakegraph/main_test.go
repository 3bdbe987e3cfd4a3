package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/test/fakegraph"
)

func TestServesInItsOwnProcess(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-users", "250", "-groups", "3", "-memberships", "30", "-page-size", "100", "-ca-out", ca, "-client-secret", "s3cret"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(line)
	go io.Copy(io.Discard, pr)
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}

	resp, err := hc.PostForm(base+"/"+fakegraph.DefaultTenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {fakegraph.DefaultClientID}, "client_secret": {"s3cret"},
		"scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	get := func(u string) map[string]any {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return body
	}
	n, next, delta := 0, base+"/v1.0/users/delta?$select=displayName", ""
	for next != "" {
		body := get(next)
		n += len(body["value"].([]any))
		next, _ = body["@odata.nextLink"].(string)
		delta, _ = body["@odata.deltaLink"].(string)
	}
	if n != 250 || delta == "" {
		t.Fatalf("users %d, deltaLink %q", n, delta)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/_fakegraph/churn?n=7", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("churn: %v %v", err, resp)
	}
	resp.Body.Close()
	if got := len(get(delta)["value"].([]any)); got != 7 {
		t.Errorf("incremental round after churn of 7: %d users", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-users", "-1"}, {"-page-size", "0"}, {"-listen", "nonsense"}, {"-client-cert", "/nonexistent"}, {"extra"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: no error", args)
		} else if !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "")) && args[0] != "extra" {
			t.Errorf("%v: error %q does not name the flag", args, err)
		}
	}
}

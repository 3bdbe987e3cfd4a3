package graphpull

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// appCert is an app registration's certificate: an RSA key and a
// self-signed certificate, in PEM.
type appCert struct {
	key     *rsa.PrivateKey
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte
}

func newAppCert(t *testing.T) appCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "scimbridge graph pull test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return appCert{
		key: key, cert: cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}
}

// openSSLPFX exports c as PKCS#12 with the openssl CLI and extra flags (none:
// OpenSSL 3's defaults, AES-256-CBC with PBKDF2 and a SHA-256 MAC).
func openSSLPFX(t *testing.T, c appCert, password string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl CLI not found: it makes the OpenSSL 3 default PKCS#12 file this test needs: %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile, out := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), filepath.Join(dir, "app.pfx")
	if err := os.WriteFile(certFile, c.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-out", out, "-passout", "pass:" + password}, flags...)
	if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCertificateFormats(t *testing.T) {
	c := newAppCert(t)
	modernGo, err := pkcs12.Modern.Encode(c.key, c.cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	legacyRC2, err := pkcs12.LegacyRC2.Encode(c.key, c.cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	legacyDES, err := pkcs12.LegacyDES.Encode(c.key, c.cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	openssl3 := openSSLPFX(t, c, "pw")
	opensslLegacy := openSSLPFX(t, c, "pw", "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")

	// The reason this package does not use azidentity.ParseCertificates
	// for PKCS#12: it cannot read OpenSSL 3's default file.
	if _, _, err := azidentity.ParseCertificates(openssl3, []byte("pw")); err == nil {
		t.Log("azidentity.ParseCertificates now reads OpenSSL 3 PKCS#12 files")
	}

	for name, tc := range map[string]struct {
		data []byte
		pw   string
	}{
		"openssl 3 default (AES/PBES2)": {openssl3, "pw"},
		"openssl legacy 3DES/SHA-1":     {opensslLegacy, "pw"},
		"go-pkcs12 Modern":              {modernGo, "pw"},
		"go-pkcs12 LegacyRC2":           {legacyRC2, "pw"},
		"go-pkcs12 LegacyDES":           {legacyDES, "pw"},
		"PEM cert+key":                  {append(append([]byte{}, c.certPEM...), c.keyPEM...), ""},
		"PEM key+cert":                  {append(append([]byte{}, c.keyPEM...), c.certPEM...), ""},
	} {
		t.Run(name, func(t *testing.T) {
			certs, key, err := parseCertificate(tc.data, tc.pw)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) == 0 || !certs[0].Equal(c.cert) {
				t.Fatal("leaf certificate not first or not ours")
			}
			rk, ok := key.(*rsa.PrivateKey)
			if !ok || !rk.Equal(c.key) {
				t.Fatalf("key %T is not ours", key)
			}
			cfg := Config{TenantID: "t", ClientID: "c", Certificate: tc.data, CertificatePassword: tc.pw}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := newCredential(cfg, "https://login.example/", nil); err != nil {
				t.Fatal(err)
			}
		})
	}

	for name, tc := range map[string]struct {
		data []byte
		pw   string
		want string
	}{
		"wrong password":  {openssl3, "nope", "wrong password"},
		"not a pfx":       {[]byte("hello"), "", "PKCS#12"},
		"PEM without key": {c.certPEM, "", "PEM"},
		"cert only pfx":   {mustTrustStore(t, c.cert), "pw", "PKCS#12"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := parseCertificate(tc.data, tc.pw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			err = Config{TenantID: "t", ClientID: "c", Certificate: tc.data, CertificatePassword: tc.pw}.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "graph.certificate: ") {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func mustTrustStore(t *testing.T, c *x509.Certificate) []byte {
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{c}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

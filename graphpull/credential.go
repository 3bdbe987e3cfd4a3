package graphpull

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// newCredential builds the app's azidentity credential: a client secret or
// a client certificate, against the cloud's authority (or the override).
// A custom authority host gets DisableInstanceDiscovery: MSAL would
// otherwise ask login.microsoftonline.com whether the host is a known
// authority, which fails (after ~19 s) for a private or test authority.
func newCredential(c Config, authority string, transport *http.Client) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}},
		Transport: transport,
		// azcore retries token requests on 429/5xx and transport errors;
		// two quick retries keep an unreachable authority from stalling a
		// round for long.
		Retry: policy.RetryOptions{MaxRetries: 2},
	}
	disable := c.AuthorityHost != ""
	if c.ClientSecret != "" {
		cred, err := azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disable})
		if err != nil {
			return nil, fmt.Errorf("graph client secret credential: %w", err)
		}
		return cred, nil
	}
	certs, key, err := parseCertificate(c.Certificate, c.CertificatePassword)
	if err != nil {
		return nil, fmt.Errorf("graph.certificate: %w", err)
	}
	cred, err := azidentity.NewClientCertificateCredential(c.TenantID, c.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disable})
	if err != nil {
		return nil, fmt.Errorf("graph client certificate credential: %w", err)
	}
	return cred, nil
}

// parseCertificate decodes the app's certificate and private key from a PEM
// file (certificate and unencrypted key) or a PKCS#12 file. PKCS#12 goes
// through software.sslmate.com/src/go-pkcs12, which reads both the legacy
// (RC2/3DES, SHA-1 MAC) files and the AES-256/PBES2 ones that OpenSSL 3,
// current Windows and Key Vault export by default; azidentity's own
// ParseCertificates (golang.org/x/crypto/pkcs12) reads only the legacy ones.
// The leaf certificate comes first, as azidentity wants.
func parseCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		var pw []byte
		if password != "" {
			pw = []byte(password)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			return nil, nil, fmt.Errorf("PEM: %v (the key must be an unencrypted PRIVATE KEY block beside the CERTIFICATE)", err)
		}
		return certs, key, nil
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, errors.New("PKCS#12: wrong password (certificate.password)")
		}
		return nil, nil, fmt.Errorf("PKCS#12: %v", err)
	}
	if key == nil || leaf == nil {
		return nil, nil, errors.New("PKCS#12: the file must hold the certificate and its private key")
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}

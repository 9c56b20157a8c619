package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// env is what every check shares: the vault, a client on it, the credential it asks for tokens, and the
// run's name prefix.
type env struct {
	vaultURL   string
	client     *azsecrets.Client
	credential *fakeCredential
	transport  *http.Client
	prefix     string
	settle     time.Duration
}

func newEnv(vaultURL, caFile string, settle time.Duration) (*env, error) {
	transport, err := trustingTransport(caFile)
	if err != nil {
		return nil, err
	}
	e := &env{
		vaultURL:   strings.TrimSuffix(vaultURL, "/"),
		credential: &fakeCredential{},
		transport:  transport,
		prefix:     "conf-" + randomHex(4) + "-",
		settle:     settle,
	}
	if e.client, err = e.newClient(""); err != nil {
		return nil, err
	}
	return e, nil
}

// newClient builds a client the way an application would, with two emulator allowances: a fake
// credential and no check that the challenge's resource matches the vault's domain (localhost is not
// *.vault.azure.net). apiVersion "" keeps the SDK's default.
func (e *env) newClient(apiVersion string) (*azsecrets.Client, error) {
	return azsecrets.NewClient(e.vaultURL, e.credential, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			APIVersion:      apiVersion,
			Transport:       e.transport,
			PerCallPolicies: []policy.Policy{maxResultsPolicy{}},
			// Retries would hide a wrong status behind a slow success; the emulator is local and never throttles
			// unless told to.
			Retry: policy.RetryOptions{MaxRetries: -1},
		},
		DisableChallengeResourceVerification: true,
	})
}

// trustingTransport verifies TLS against the system roots plus the PEM file given (the emulator's
// self-signed certificate): verification stays on.
func trustingTransport(caFile string) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
		}
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 4,
		},
	}, nil
}

// name is a secret name of this run: conf-<run>-<label>.
func (e *env) name(label string) string { return e.prefix + label }

// value is a fresh random secret value; it is compared, never printed.
func value() string { return "v-" + randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// fakeCredential hands out a fixed token and records what the SDK asked it for: the scope and tenant
// come from the vault's 401 challenge, so they show the challenge was read the way the SDK reads it.
type fakeCredential struct {
	mu       sync.Mutex
	requests []policy.TokenRequestOptions
}

func (c *fakeCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, opts)
	return azcore.AccessToken{Token: "rekey-conformance-not-a-real-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) asked() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]policy.TokenRequestOptions(nil), c.requests...)
}

// azsecrets dropped its MaxResults option (CHANGELOG, 0.10.0) though the REST API keeps the documented
// `maxresults` query parameter (1-25). To force several pages through nextLink with few items, a check
// puts a page size into the context and this policy adds it to the first request of a list; the pages
// after it follow the nextLink the service returned, untouched, as the SDK's pager does.
type maxResultsPolicy struct{}

type maxResultsKey struct{}

func withMaxResults(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, maxResultsKey{}, n)
}

func (maxResultsPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if n, ok := raw.Context().Value(maxResultsKey{}).(int); ok && raw.Method == http.MethodGet {
		q := raw.URL.Query()
		if !q.Has("$skiptoken") && !q.Has("maxresults") {
			q.Set("maxresults", strconv.Itoa(n))
			raw.URL.RawQuery = q.Encode()
		}
	}
	return req.Next()
}

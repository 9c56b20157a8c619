package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// set stores a new version and returns its version id, checking what every Set Secret answer carries.
func set(t *T, name, val string, params azsecrets.SetSecretParameters) azsecrets.SetSecretResponse {
	params.Value = to.Ptr(val)
	res, err := t.env.client.SetSecret(t.ctx, name, params, nil)
	must(t, "SetSecret "+name, err)
	expectValue(t, "SetSecret "+name+" answer", res.Value, val)
	// Names are case-insensitive: which casing the id carries is the service's choice.
	expect(t, res.ID != nil && strings.EqualFold(res.ID.Name(), name) && len(res.ID.Version()) > 0,
		"SetSecret %s: id %q is not <vault>/secrets/%s/<version>", name, deref(res.ID), name)
	expect(t, strings.HasPrefix(string(*res.ID), t.env.vaultURL+"/secrets/"),
		"SetSecret %s: id %q is not under the vault URL %s", name, *res.ID, t.env.vaultURL)
	return res
}

func checkChallenge(t *T) {
	// The very first request of this process went without a token, got 401 + WWW-Authenticate, and was
	// sent again with the token the credential gave for the challenge's resource and tenant. Make sure a
	// request has been sent, then look at what the credential was asked.
	name := t.env.name("challenge")
	set(t, name, value(), azsecrets.SetSecretParameters{})
	asked := t.env.credential.asked()
	expect(t, len(asked) >= 1, "the SDK never asked the credential for a token")
	first := asked[0]
	expect(t, len(first.Scopes) == 1 && first.Scopes[0] == "https://vault.azure.net/.default",
		"token scopes %v, want [https://vault.azure.net/.default] (from the challenge's resource)", first.Scopes)
	expect(t, first.TenantID != "", "token request without the tenant named in the challenge")

	// The challenge itself, as a client without the SDK sees it.
	req, err := http.NewRequestWithContext(t.ctx, http.MethodGet, t.env.vaultURL+"/secrets/"+name+"?api-version=7.6", nil)
	must(t, "build request", err)
	res, err := t.env.transport.Do(req)
	must(t, "GET without a token", err)
	_ = res.Body.Close()
	expectEq(t, "status without a token", res.StatusCode, http.StatusUnauthorized)
	challenge := res.Header.Get("WWW-Authenticate")
	expect(t, strings.HasPrefix(challenge, "Bearer ") && strings.Contains(challenge, `authorization="https://login.microsoftonline.com/`+first.TenantID+`"`) &&
		strings.Contains(challenge, `resource="https://vault.azure.net"`),
		"WWW-Authenticate %q does not name the tenant's authority and the Key Vault resource", challenge)
}

func checkSetGetVersions(t *T) {
	c, name := t.env.client, t.env.name("versions")
	v1, v2 := value(), value()
	r1 := set(t, name, v1, azsecrets.SetSecretParameters{})
	r2 := set(t, name, v2, azsecrets.SetSecretParameters{})
	id1, id2 := r1.ID.Version(), r2.ID.Version()
	expect(t, id1 != id2, "two sets gave the same version id %s", id1)

	got, err := c.GetSecret(t.ctx, name, id1, nil)
	must(t, "GetSecret by the first version", err)
	expectValue(t, "GetSecret by the first version", got.Value, v1)
	expectEq(t, "GetSecret by the first version: id", got.ID.Version(), id1)

	got, err = c.GetSecret(t.ctx, name, id2, nil)
	must(t, "GetSecret by the second version", err)
	expectValue(t, "GetSecret by the second version", got.Value, v2)

	got, err = c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret without a version", err)
	expectValue(t, "GetSecret without a version (the newest)", got.Value, v2)
	expectEq(t, "GetSecret without a version: id names the newest version", got.ID.Version(), id2)

	// Version ids are case-insensitive in the service.
	got, err = c.GetSecret(t.ctx, name, strings.ToUpper(id1), nil)
	must(t, "GetSecret by the first version in upper case", err)
	expectValue(t, "GetSecret by the first version in upper case", got.Value, v1)
}

func checkTagsAndContentType(t *T) {
	c, name := t.env.client, t.env.name("tags")
	tags := map[string]*string{"rotation": to.Ptr("rot-1"), "owner": to.Ptr("conformance")}
	r1 := set(t, name, value(), azsecrets.SetSecretParameters{ContentType: to.Ptr("text/plain"), Tags: tags})
	expectEq(t, "SetSecret answer: content type", deref(r1.ContentType), "text/plain")
	expectEq(t, "SetSecret answer: tag rotation", deref(r1.Tags["rotation"]), "rot-1")

	got, err := c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret", err)
	expectEq(t, "GetSecret: content type", deref(got.ContentType), "text/plain")
	expectEq(t, "GetSecret: number of tags", len(got.Tags), 2)
	expectEq(t, "GetSecret: tag owner", deref(got.Tags["owner"]), "conformance")

	// Tags and content type belong to a version: a new version without them has none.
	r2 := set(t, name, value(), azsecrets.SetSecretParameters{})
	got, err = c.GetSecret(t.ctx, name, r2.ID.Version(), nil)
	must(t, "GetSecret of a version set without tags", err)
	expectEq(t, "a version set without tags: number of tags", len(got.Tags), 0)
	expect(t, got.ContentType == nil, "a version set without a content type has %q", deref(got.ContentType))
	got, err = c.GetSecret(t.ctx, name, r1.ID.Version(), nil)
	must(t, "GetSecret of the tagged version", err)
	expectEq(t, "the tagged version keeps its tag", deref(got.Tags["rotation"]), "rot-1")
}

func checkAttributes(t *T) {
	c, name := t.env.client, t.env.name("attributes")
	nbf := time.Now().Add(-time.Hour).Truncate(time.Second)
	exp := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	before := time.Now().Add(-5 * time.Minute)
	set(t, name, value(), azsecrets.SetSecretParameters{SecretAttributes: &azsecrets.SecretAttributes{
		Enabled: to.Ptr(true), NotBefore: &nbf, Expires: &exp,
	}})
	got, err := c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret", err)
	a := got.Attributes
	expect(t, a != nil, "GetSecret: no attributes")
	expect(t, deref(a.Enabled), "GetSecret: enabled is %v, want true", deref(a.Enabled))
	expect(t, a.NotBefore != nil && a.NotBefore.Equal(nbf), "GetSecret: nbf %v, want %v", a.NotBefore, nbf)
	expect(t, a.Expires != nil && a.Expires.Equal(exp), "GetSecret: exp %v, want %v", a.Expires, exp)
	expect(t, a.Created != nil && a.Created.After(before) && a.Created.Before(time.Now().Add(5*time.Minute)),
		"GetSecret: created %v is not now", a.Created)
	expect(t, a.Updated != nil && !a.Updated.Before(*a.Created), "GetSecret: updated %v before created %v", a.Updated, a.Created)
	expect(t, strings.Contains(deref(a.RecoveryLevel), "Recoverable"),
		"GetSecret: recoveryLevel %q of a soft-delete vault", deref(a.RecoveryLevel))
	days := deref(a.RecoverableDays)
	expect(t, days >= 7 && days <= 90, "GetSecret: recoverableDays %d, want 7-90", days)
	expect(t, got.KID == nil && !deref(got.Managed), "a plain secret reports kid/managed")
}

func checkCaseInsensitiveNames(t *T) {
	c := t.env.client
	name := t.env.name("MixedCase")
	v := value()
	r := set(t, name, v, azsecrets.SetSecretParameters{})
	got, err := c.GetSecret(t.ctx, strings.ToLower(name), "", nil)
	must(t, "GetSecret by the lower-case name", err)
	expectValue(t, "GetSecret by the lower-case name", got.Value, v)
	expectEq(t, "GetSecret by the lower-case name: version", got.ID.Version(), r.ID.Version())
	// A set under another case adds a version to the same secret.
	set(t, strings.ToUpper(name), value(), azsecrets.SetSecretParameters{})
	n := 0
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(t.ctx)
		must(t, "list versions", err)
		n += len(page.Value)
	}
	expectEq(t, "versions after sets under two cases of one name", n, 2)
}

func checkExpiryInformational(t *T) {
	// exp and nbf are informational for secrets: the service still returns the value of an expired or
	// not-yet-valid version (observed: Azure/AzureKeyVault#19), unlike a disabled one.
	c := t.env.client
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	future := time.Now().Add(time.Hour).Truncate(time.Second)
	expired, pending := t.env.name("expired"), t.env.name("not-yet-valid")
	ve, vp := value(), value()
	set(t, expired, ve, azsecrets.SetSecretParameters{SecretAttributes: &azsecrets.SecretAttributes{Expires: &past}})
	set(t, pending, vp, azsecrets.SetSecretParameters{SecretAttributes: &azsecrets.SecretAttributes{NotBefore: &future}})
	got, err := c.GetSecret(t.ctx, expired, "", nil)
	must(t, "GetSecret of an expired secret", err)
	expectValue(t, "GetSecret of an expired secret", got.Value, ve)
	got, err = c.GetSecret(t.ctx, pending, "", nil)
	must(t, "GetSecret of a secret whose nbf is ahead", err)
	expectValue(t, "GetSecret of a secret whose nbf is ahead", got.Value, vp)
}

func checkValueRoundTrip(t *T) {
	// Values are strings of any characters, up to 25 KB: JSON escapes, non-ASCII and a large value come
	// back byte for byte.
	c := t.env.client
	cases := map[string]string{
		"escapes": `quote " backslash \ slash / tab ` + "\t newline \n" + value(),
		"unicode": "clé 密钥 ключ 🔑 " + value(),
		"24 KB":   strings.Repeat("k", 24*1024-34) + value(),
	}
	for label, v := range cases {
		name := t.env.name("value-" + strings.ReplaceAll(label, " ", ""))
		set(t, name, v, azsecrets.SetSecretParameters{})
		got, err := c.GetSecret(t.ctx, name, "", nil)
		must(t, "GetSecret of a value with "+label, err)
		expectValue(t, "GetSecret of a value with "+label, got.Value, v)
	}
}

package main

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func checkNotFound(t *T) {
	c := t.env.client
	missing := t.env.name("never-set")
	const notFound, code = http.StatusNotFound, "SecretNotFound"
	_, err := c.GetSecret(t.ctx, missing, "", nil)
	expectError(t, "GetSecret of a name never set", err, notFound, code, "")
	_, err = c.UpdateSecretProperties(t.ctx, missing, "", azsecrets.UpdateSecretPropertiesParameters{ContentType: to.Ptr("x")}, nil)
	expectError(t, "UpdateSecretProperties of a name never set", err, notFound, code, "")
	_, err = c.DeleteSecret(t.ctx, missing, nil)
	expectError(t, "DeleteSecret of a name never set", err, notFound, code, "")
	_, err = c.NewListSecretPropertiesVersionsPager(missing, nil).NextPage(t.ctx)
	expectError(t, "list versions of a name never set", err, notFound, code, "")

	name := t.env.name("not-found")
	set(t, name, value(), azsecrets.SetSecretParameters{})
	unknown := strings.Repeat("0", 32)
	_, err = c.GetSecret(t.ctx, name, unknown, nil)
	expectError(t, "GetSecret of an unknown version", err, notFound, code, "")
	_, err = c.UpdateSecretProperties(t.ctx, name, unknown, azsecrets.UpdateSecretPropertiesParameters{ContentType: to.Ptr("x")}, nil)
	expectError(t, "UpdateSecretProperties of an unknown version", err, notFound, code, "")
	// The deleted-secret operations on a secret that is not deleted.
	_, err = c.GetDeletedSecret(t.ctx, name, nil)
	expectError(t, "GetDeletedSecret of an active secret", err, notFound, code, "")
	_, err = c.RecoverDeletedSecret(t.ctx, name, nil)
	expectError(t, "RecoverDeletedSecret of an active secret", err, notFound, code, "")
	_, err = c.PurgeDeletedSecret(t.ctx, name, nil)
	expectError(t, "PurgeDeletedSecret of an active secret", err, notFound, code, "")
}

func checkConflictWhileDeleted(t *T) {
	c, name := t.env.client, t.env.name("conflict")
	set(t, name, value(), azsecrets.SetSecretParameters{})
	deleteAndSettle(t, name)
	v := value()
	_, err := c.SetSecret(t.ctx, name, azsecrets.SetSecretParameters{Value: &v}, nil)
	expectError(t, "SetSecret while the name is soft-deleted", err, http.StatusConflict, "Conflict", "ObjectIsDeletedButRecoverable")
	_, err = c.DeleteSecret(t.ctx, name, nil)
	expectError(t, "DeleteSecret of a soft-deleted secret", err, http.StatusNotFound, "SecretNotFound", "")
}

func checkForbiddenDisabled(t *T) {
	c, name := t.env.client, t.env.name("forbidden")
	id := set(t, name, value(), azsecrets.SetSecretParameters{SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}}).ID.Version()
	_, err := c.GetSecret(t.ctx, name, id, nil)
	expectError(t, "GetSecret by version of a version set disabled", err, http.StatusForbidden, "Forbidden", "SecretDisabled")
	_, err = c.GetSecret(t.ctx, name, "", nil)
	expectError(t, "GetSecret of a secret whose only version is disabled", err, http.StatusForbidden, "Forbidden", "SecretDisabled")
	// Its properties stay readable in the lists.
	page, err := c.NewListSecretPropertiesVersionsPager(name, nil).NextPage(t.ctx)
	must(t, "list versions of a disabled secret", err)
	expectEq(t, "versions of a disabled secret", len(page.Value), 1)
}

func checkNameRule(t *T) {
	// 1-127 characters of 0-9, a-z, A-Z and '-': the longest name works end to end, anything else is 400.
	c := t.env.client
	longest := t.env.name(strings.Repeat("x", 127-len(t.env.prefix)))
	v := value()
	id := set(t, longest, v, azsecrets.SetSecretParameters{}).ID.Version()
	got, err := c.GetSecret(t.ctx, longest, id, nil)
	must(t, "GetSecret of a 127-character name", err)
	expectValue(t, "GetSecret of a 127-character name", got.Value, v)
	_, err = c.UpdateSecretProperties(t.ctx, longest, id, azsecrets.UpdateSecretPropertiesParameters{ContentType: to.Ptr("text/plain")}, nil)
	must(t, "UpdateSecretProperties of a 127-character name", err)
	_, err = c.NewListSecretPropertiesVersionsPager(longest, nil).NextPage(t.ctx)
	must(t, "list versions of a 127-character name", err)

	for label, name := range map[string]string{
		"128 characters": longest + "x",
		"an underscore":  t.env.name("under_score"),
		"a dot":          t.env.name("dot.ted"),
	} {
		_, err := c.SetSecret(t.ctx, name, azsecrets.SetSecretParameters{Value: &v}, nil)
		expectError(t, "SetSecret of a name with "+label, err, http.StatusBadRequest, "BadParameter", "")
	}
}

func checkExplicitAPIVersion(t *T) {
	// ClientOptions.APIVersion pins an older service version; the vault answers it the same way.
	c, err := t.env.newClient("7.6")
	must(t, "NewClient with APIVersion 7.6", err)
	name := t.env.name("api-7-6")
	v := value()
	_, err = c.SetSecret(t.ctx, name, azsecrets.SetSecretParameters{Value: &v}, nil)
	must(t, "SetSecret at api-version 7.6", err)
	got, err := c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret at api-version 7.6", err)
	expectValue(t, "GetSecret at api-version 7.6", got.Value, v)
}

func checkCleanup(t *T) {
	// Everything this run created goes: active secrets are deleted, then every deleted one of the run is
	// purged, and neither list shows the run's prefix afterwards.
	c := t.env.client
	var active []string
	for _, p := range pages(t, "list secrets", t.ctx, c.NewListSecretPropertiesPager(nil),
		func(p azsecrets.ListSecretPropertiesResponse) int { return len(p.Value) }, 25) {
		for _, item := range p.Value {
			if strings.HasPrefix(strings.ToLower(item.ID.Name()), t.env.prefix) {
				active = append(active, item.ID.Name())
			}
		}
	}
	for _, name := range active {
		deleteAndSettle(t, name)
	}
	var deleted []string
	for _, p := range pages(t, "list deleted secrets", t.ctx, c.NewListDeletedSecretPropertiesPager(nil),
		func(p azsecrets.ListDeletedSecretPropertiesResponse) int { return len(p.Value) }, 25) {
		for _, item := range p.Value {
			if strings.HasPrefix(strings.ToLower(item.ID.Name()), t.env.prefix) {
				deleted = append(deleted, item.ID.Name())
			}
		}
	}
	expect(t, len(deleted) >= len(active), "%d secrets deleted but %d listed as deleted", len(active), len(deleted))
	for _, name := range deleted {
		_, err := c.PurgeDeletedSecret(t.ctx, name, nil)
		must(t, "PurgeDeletedSecret "+name, err)
	}
	eventually(t, "lists without the run's secrets", func() error {
		for _, p := range pages(t, "list deleted secrets", t.ctx, c.NewListDeletedSecretPropertiesPager(nil),
			func(p azsecrets.ListDeletedSecretPropertiesResponse) int { return len(p.Value) }, 25) {
			for _, item := range p.Value {
				if strings.HasPrefix(strings.ToLower(item.ID.Name()), t.env.prefix) {
					return errRetry
				}
			}
		}
		return nil
	})
}

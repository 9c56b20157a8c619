package main

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

func setEnabled(t *T, name, version string, enabled bool) azsecrets.UpdateSecretPropertiesResponse {
	res, err := t.env.client.UpdateSecretProperties(t.ctx, name, version, azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(enabled)},
	}, nil)
	must(t, "UpdateSecretProperties enabled="+map[bool]string{true: "true", false: "false"}[enabled], err)
	expect(t, res.Value == nil, "UpdateSecretProperties returned the secret value")
	expect(t, res.Attributes != nil && deref(res.Attributes.Enabled) == enabled,
		"UpdateSecretProperties answer: enabled is not %v", enabled)
	return res
}

func checkDisableEnable(t *T) {
	c, name := t.env.client, t.env.name("disable")
	v1 := value()
	id1 := set(t, name, v1, azsecrets.SetSecretParameters{}).ID.Version()
	v2 := value()
	set(t, name, v2, azsecrets.SetSecretParameters{})

	res := setEnabled(t, name, id1, false)
	expectEq(t, "UpdateSecretProperties answer: id names the updated version", res.ID.Version(), id1)
	_, err := c.GetSecret(t.ctx, name, id1, nil)
	expectError(t, "GetSecret of the disabled version", err, http.StatusForbidden, "Forbidden", "SecretDisabled")
	got, err := c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret of the newest (enabled) version", err)
	expectValue(t, "GetSecret of the newest version", got.Value, v2)

	found := false
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(t.ctx)
		must(t, "list versions", err)
		for _, item := range page.Value {
			if item.ID.Version() == id1 {
				found = true
				expect(t, item.Attributes != nil && !deref(item.Attributes.Enabled), "list versions: the disabled version shows enabled")
			}
		}
	}
	expect(t, found, "list versions: the disabled version is missing")

	setEnabled(t, name, id1, true)
	got, err = c.GetSecret(t.ctx, name, id1, nil)
	must(t, "GetSecret of the re-enabled version", err)
	expectValue(t, "GetSecret of the re-enabled version", got.Value, v1)
}

func checkDisabledLatest(t *T) {
	c, name := t.env.client, t.env.name("disabled-latest")
	set(t, name, value(), azsecrets.SetSecretParameters{})
	set(t, name, value(), azsecrets.SetSecretParameters{SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}})
	_, err := c.GetSecret(t.ctx, name, "", nil)
	expectError(t, "GetSecret of a newest version set disabled", err, http.StatusForbidden, "Forbidden", "SecretDisabled")
	// An update without a version acts on the newest one.
	setEnabled(t, name, "", true)
	_, err = c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret after enabling the newest version", err)
}

func checkUpdateTags(t *T) {
	c, name := t.env.client, t.env.name("update-tags")
	set(t, name, value(), azsecrets.SetSecretParameters{
		ContentType: to.Ptr("text/plain"),
		Tags:        map[string]*string{"a": to.Ptr("1"), "b": to.Ptr("2")},
	})
	// Tags given replace the whole set; the content type changes.
	res, err := c.UpdateSecretProperties(t.ctx, name, "", azsecrets.UpdateSecretPropertiesParameters{
		ContentType: to.Ptr("application/json"),
		Tags:        map[string]*string{"c": to.Ptr("3")},
	}, nil)
	must(t, "UpdateSecretProperties tags", err)
	expectEq(t, "after replacing the tags: number of tags", len(res.Tags), 1)
	expectEq(t, "after replacing the tags: tag c", deref(res.Tags["c"]), "3")
	expectEq(t, "after the update: content type", deref(res.ContentType), "application/json")
	// What an update leaves out stays.
	res, err = c.UpdateSecretProperties(t.ctx, name, "", azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(true)},
	}, nil)
	must(t, "UpdateSecretProperties without tags", err)
	expectEq(t, "an update without tags keeps them", deref(res.Tags["c"]), "3")
	expectEq(t, "an update without a content type keeps it", deref(res.ContentType), "application/json")
	got, err := c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret", err)
	expectEq(t, "GetSecret after the updates: number of tags", len(got.Tags), 1)
}

func checkUpdateWithReadAttributes(t *T) {
	// The Go idiom: read the properties, change one, send the struct back. SecretAttributes then carries its
	// read-only fields too (created, updated, recoveryLevel, recoverableDays), which the service ignores.
	c, name := t.env.client, t.env.name("read-modify")
	set(t, name, value(), azsecrets.SetSecretParameters{Tags: map[string]*string{"k": to.Ptr("v")}})
	got, err := c.GetSecret(t.ctx, name, "", nil)
	must(t, "GetSecret", err)
	attrs := *got.Attributes
	attrs.Enabled = to.Ptr(false)
	res, err := c.UpdateSecretProperties(t.ctx, name, got.ID.Version(), azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &attrs, ContentType: got.ContentType, Tags: got.Tags,
	}, nil)
	must(t, "UpdateSecretProperties with the attributes read back", err)
	expect(t, !deref(res.Attributes.Enabled), "the update with the attributes read back did not disable the version")
	expect(t, res.Attributes.Created != nil && res.Attributes.Created.Equal(*got.Attributes.Created),
		"the update changed created from %v to %v", got.Attributes.Created, res.Attributes.Created)
	expectEq(t, "the tags sent back", deref(res.Tags["k"]), "v")
}

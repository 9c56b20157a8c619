package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// deleteAndSettle deletes a secret and waits until Get Deleted Secret finds it: the service accepts a
// delete at once and finishes it asynchronously (404 meanwhile), which azsecrets leaves to its caller.
func deleteAndSettle(t *T, name string) azsecrets.DeleteSecretResponse {
	res, err := t.env.client.DeleteSecret(t.ctx, name, nil)
	must(t, "DeleteSecret "+name, err)
	eventually(t, "GetDeletedSecret "+name+" after the delete", func() error {
		_, err := t.env.client.GetDeletedSecret(t.ctx, name, nil)
		return err
	}, http.StatusNotFound)
	return res
}

func checkDeleteRecover(t *T) {
	c, name := t.env.client, t.env.name("recover")
	v1 := value()
	id1 := set(t, name, v1, azsecrets.SetSecretParameters{}).ID.Version()
	v2 := value()
	id2 := set(t, name, v2, azsecrets.SetSecretParameters{}).ID.Version()

	start := time.Now().Add(-5 * time.Minute)
	del := deleteAndSettle(t, name)
	expect(t, del.Value == nil, "DeleteSecret returned the secret value")
	expectEq(t, "DeleteSecret answer: id names the newest version", del.ID.Version(), id2)
	expect(t, strings.HasSuffix(deref(del.RecoveryID), "/deletedsecrets/"+name), "DeleteSecret answer: recoveryId %q", deref(del.RecoveryID))
	expect(t, del.DeletedDate != nil && del.DeletedDate.After(start), "DeleteSecret answer: deletedDate %v", del.DeletedDate)
	expect(t, del.ScheduledPurgeDate != nil && del.ScheduledPurgeDate.After(time.Now().Add(6*24*time.Hour)),
		"DeleteSecret answer: scheduledPurgeDate %v is not 7 days or more away", del.ScheduledPurgeDate)

	_, err := c.GetSecret(t.ctx, name, "", nil)
	expectError(t, "GetSecret of a soft-deleted secret", err, http.StatusNotFound, "SecretNotFound", "")
	deleted, err := c.GetDeletedSecret(t.ctx, name, nil)
	must(t, "GetDeletedSecret", err)
	expect(t, deleted.Value == nil, "GetDeletedSecret returned the secret value")
	expectEq(t, "GetDeletedSecret: recoveryId", deref(deleted.RecoveryID), deref(del.RecoveryID))

	rec, err := c.RecoverDeletedSecret(t.ctx, name, nil)
	must(t, "RecoverDeletedSecret", err)
	expect(t, rec.Value == nil, "RecoverDeletedSecret returned the secret value")
	expectEq(t, "RecoverDeletedSecret answer: name", rec.ID.Name(), name)

	// The recovery also finishes asynchronously: 404 until it has.
	var got azsecrets.GetSecretResponse
	eventually(t, "GetSecret after the recovery", func() error {
		got, err = c.GetSecret(t.ctx, name, "", nil)
		return err
	}, http.StatusNotFound)
	expectValue(t, "GetSecret after the recovery (the newest)", got.Value, v2)
	old, err := c.GetSecret(t.ctx, name, id1, nil)
	must(t, "GetSecret of the first version after the recovery", err)
	expectValue(t, "the first version after the recovery", old.Value, v1)
	_, err = c.GetDeletedSecret(t.ctx, name, nil)
	expectError(t, "GetDeletedSecret after the recovery", err, http.StatusNotFound, "SecretNotFound", "")
}

func checkPurgeReuse(t *T) {
	c, name := t.env.client, t.env.name("purge")
	oldVersion := set(t, name, value(), azsecrets.SetSecretParameters{}).ID.Version()
	deleteAndSettle(t, name)
	_, err := c.PurgeDeletedSecret(t.ctx, name, nil)
	must(t, "PurgeDeletedSecret", err)
	eventually(t, "GetDeletedSecret answers 404 after the purge", func() error {
		_, err := c.GetDeletedSecret(t.ctx, name, nil)
		if err == nil {
			return errRetry
		}
		if statusOf(err) == http.StatusNotFound {
			return nil
		}
		return err
	}, http.StatusConflict)

	// The name is free again once the purge has finished (409 ObjectIsBeingDeleted until then).
	v := value()
	var newVersion string
	eventually(t, "SetSecret on the purged name", func() error {
		res, err := c.SetSecret(t.ctx, name, azsecrets.SetSecretParameters{Value: &v}, nil)
		if err == nil {
			newVersion = res.ID.Version()
		}
		return err
	}, http.StatusConflict)
	expect(t, newVersion != oldVersion, "the new secret reuses the purged version id")
	_, err = c.GetSecret(t.ctx, name, oldVersion, nil)
	expectError(t, "GetSecret of the purged version", err, http.StatusNotFound, "SecretNotFound", "")
	n := 0
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(t.ctx)
		must(t, "list versions of the new secret", err)
		n += len(page.Value)
	}
	expectEq(t, "versions of the secret set after the purge", n, 1)
}

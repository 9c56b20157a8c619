package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// pages walks a pager to its end and returns every page; it fails when a page holds more than max items
// (0: no limit) or when the walk does not end.
func pages[R any](t *T, what string, ctx context.Context, pager *runtime.Pager[R], size func(R) int, max int) []R {
	var out []R
	for pager.More() {
		page, err := pager.NextPage(ctx)
		must(t, fmt.Sprintf("%s: page %d", what, len(out)+1), err)
		if max > 0 && size(page) > max {
			t.Fatalf("%s: page %d has %d items, more than maxresults=%d", what, len(out)+1, size(page), max)
		}
		out = append(out, page)
		if len(out) > 1000 {
			t.Fatalf("%s: more than 1000 pages: the nextLinks do not end", what)
		}
	}
	return out
}

func checkListSecretsPaged(t *T) {
	c := t.env.client
	want := map[string]bool{}
	for i := range 5 {
		name := t.env.name(fmt.Sprintf("list-%d", i))
		set(t, name, value(), azsecrets.SetSecretParameters{ContentType: to.Ptr("text/plain")})
		// The item shows the newest version's tags.
		set(t, name, value(), azsecrets.SetSecretParameters{Tags: map[string]*string{"n": to.Ptr(fmt.Sprint(i))}})
		want[name] = true
	}
	all := pages(t, "list secrets", withMaxResults(t.ctx, 2), c.NewListSecretPropertiesPager(nil),
		func(p azsecrets.ListSecretPropertiesResponse) int { return len(p.Value) }, 2)
	expect(t, len(all) >= 3, "list secrets with maxresults=2 over 5+ secrets: %d pages, want 3 or more", len(all))
	for i, p := range all[:len(all)-1] {
		expect(t, p.NextLink != nil && *p.NextLink != "", "list secrets: page %d of %d has no nextLink", i+1, len(all))
	}
	seen := map[string]int{}
	for _, p := range all {
		for _, item := range p.Value {
			name := item.ID.Name()
			if !strings.HasPrefix(name, t.env.prefix+"list-") {
				continue
			}
			seen[name]++
			expectEq(t, "list secrets: item id has no version ("+name+")", item.ID.Version(), "")
			expect(t, item.Attributes != nil && item.Attributes.Created != nil, "list secrets: %s has no attributes", name)
			expect(t, item.Tags["n"] != nil, "list secrets: %s does not show its newest version's tags", name)
		}
	}
	for name := range want {
		expectEq(t, "list secrets: times "+name+" is listed", seen[name], 1)
	}
}

func checkListVersionsPaged(t *T) {
	c, name := t.env.client, t.env.name("list-versions")
	want := map[string]bool{}
	for range 5 {
		want[set(t, name, value(), azsecrets.SetSecretParameters{}).ID.Version()] = true
	}
	all := pages(t, "list versions", withMaxResults(t.ctx, 2), c.NewListSecretPropertiesVersionsPager(name, nil),
		func(p azsecrets.ListSecretPropertiesVersionsResponse) int { return len(p.Value) }, 2)
	expect(t, len(all) >= 3, "list versions with maxresults=2 over 5 versions: %d pages, want 3 or more", len(all))
	seen := map[string]int{}
	for _, p := range all {
		for _, item := range p.Value {
			expectEq(t, "list versions: item name", item.ID.Name(), name)
			seen[item.ID.Version()]++
		}
	}
	expectEq(t, "list versions: distinct versions", len(seen), 5)
	for v := range want {
		expectEq(t, "list versions: times version "+v+" is listed", seen[v], 1)
	}
}

func checkDefaultPageSize(t *T) {
	// Without maxresults the service returns up to 25 items a page: 26 versions take two pages or more.
	c, name := t.env.client, t.env.name("page-size")
	for range 26 {
		set(t, name, value(), azsecrets.SetSecretParameters{})
	}
	all := pages(t, "list versions", t.ctx, c.NewListSecretPropertiesVersionsPager(name, nil),
		func(p azsecrets.ListSecretPropertiesVersionsResponse) int { return len(p.Value) }, 25)
	n := 0
	for _, p := range all {
		n += len(p.Value)
	}
	expectEq(t, "versions listed over all pages", n, 26)
	expect(t, len(all) >= 2, "26 versions came in %d page(s) of at most 25", len(all))
}

func checkListDeletedPaged(t *T) {
	c := t.env.client
	want := map[string]bool{}
	for i := range 3 {
		name := t.env.name(fmt.Sprintf("list-deleted-%d", i))
		set(t, name, value(), azsecrets.SetSecretParameters{})
		deleteAndSettle(t, name)
		want[name] = true
	}
	all := pages(t, "list deleted secrets", withMaxResults(t.ctx, 2), c.NewListDeletedSecretPropertiesPager(nil),
		func(p azsecrets.ListDeletedSecretPropertiesResponse) int { return len(p.Value) }, 2)
	expect(t, len(all) >= 2, "list deleted secrets with maxresults=2 over 3+ deleted secrets: %d page(s)", len(all))
	seen := map[string]int{}
	for _, p := range all {
		for _, item := range p.Value {
			name := item.ID.Name()
			if !want[name] {
				continue
			}
			seen[name]++
			expect(t, strings.HasSuffix(deref(item.RecoveryID), "/deletedsecrets/"+name),
				"list deleted: recoveryId %q of %s", deref(item.RecoveryID), name)
			expect(t, item.DeletedDate != nil && item.ScheduledPurgeDate != nil && item.ScheduledPurgeDate.After(*item.DeletedDate),
				"list deleted: %s lacks deletedDate/scheduledPurgeDate, or purges before it was deleted", name)
		}
	}
	for name := range want {
		expectEq(t, "list deleted: times "+name+" is listed", seen[name], 1)
	}
}

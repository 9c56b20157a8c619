// Command azure-go is the cross-language conformance check of rekey's reference Key Vault: the official
// Azure SDK for Go (azsecrets, on azcore) drives the secrets REST API of the vault at -vault and asserts
// what the SDK and the service documentation promise. Each check prints one JSON line on stdout
// ({"check","ok","ms","error"}); the process exits 1 when any check fails, 2 when it cannot start.
//
// Secret values are random, made here, and never printed: failures name checks, ids, status and error
// codes only. Every name starts with conf-<run id>-, and the last check purges everything created, so the
// program can also be pointed at a scratch vault of the real service (with a real credential it would need
// code of its own: the credential here is a fake the emulator accepts).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"
)

func main() {
	vault := flag.String("vault", os.Getenv("AZURE_KEYVAULT_URL"), "vault URL, e.g. https://localhost:8443 (default $AZURE_KEYVAULT_URL)")
	caFile := flag.String("ca", "", "PEM file with the certificate (or CA) the vault's TLS certificate is verified against; the system roots are trusted too")
	only := flag.String("run", "", "regular expression: run only the checks whose name matches")
	timeout := flag.Duration("timeout", 3*time.Minute, "deadline of the whole run")
	settle := flag.Duration("settle", 30*time.Second, "how long a delete, recover or purge may take to finish (the service finishes them asynchronously)")
	flag.Parse()

	if *vault == "" {
		fmt.Fprintln(os.Stderr, "azure-go: -vault (or AZURE_KEYVAULT_URL) is required")
		os.Exit(2)
	}
	var filter *regexp.Regexp
	if *only != "" {
		var err error
		if filter, err = regexp.Compile(*only); err != nil {
			fmt.Fprintf(os.Stderr, "azure-go: -run: %v\n", err)
			os.Exit(2)
		}
	}
	env, err := newEnv(*vault, *caFile, *settle)
	if err != nil {
		fmt.Fprintf(os.Stderr, "azure-go: %v\n", err)
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	failed := 0
	for _, c := range allChecks() {
		if filter != nil && !filter.MatchString(c.name) {
			continue
		}
		r := runCheck(ctx, env, c)
		if !r.OK {
			failed++
			fmt.Fprintf(os.Stderr, "FAIL %s: %s\n", r.Check, r.Error)
		}
		_ = out.Encode(r)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// allChecks is the conformance suite in the order it runs; each check uses names of its own, so a failure
// does not cascade into the checks after it (cleanup, last, purges what every check created).
func allChecks() []check {
	return []check{
		{"auth/challenge-then-bearer", checkChallenge},
		{"secrets/set-get-versions", checkSetGetVersions},
		{"secrets/tags-and-content-type", checkTagsAndContentType},
		{"secrets/attributes-round-trip", checkAttributes},
		{"secrets/value-round-trip", checkValueRoundTrip},
		{"secrets/exp-nbf-informational", checkExpiryInformational},
		{"secrets/names-case-insensitive", checkCaseInsensitiveNames},
		{"properties/disable-enable-version", checkDisableEnable},
		{"properties/disabled-latest", checkDisabledLatest},
		{"properties/tags-replace-and-keep", checkUpdateTags},
		{"properties/update-with-read-attributes", checkUpdateWithReadAttributes},
		{"list/secrets-paged", checkListSecretsPaged},
		{"list/versions-paged", checkListVersionsPaged},
		{"list/default-page-size", checkDefaultPageSize},
		{"list/deleted-paged", checkListDeletedPaged},
		{"soft-delete/delete-get-deleted-recover", checkDeleteRecover},
		{"soft-delete/purge-then-name-reusable", checkPurgeReuse},
		{"errors/not-found", checkNotFound},
		{"errors/conflict-while-soft-deleted", checkConflictWhileDeleted},
		{"errors/forbidden-disabled", checkForbiddenDisabled},
		{"errors/name-rule", checkNameRule},
		{"api-version/explicit-7.6", checkExplicitAPIVersion},
		{"cleanup/purge-everything-created", checkCleanup},
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// check is one named conformance check; it fails through T.Fatalf.
type check struct {
	name string
	run  func(t *T)
}

// result is the JSON line printed for a check.
type result struct {
	Check string `json:"check"`
	OK    bool   `json:"ok"`
	MS    int64  `json:"ms"`
	Error string `json:"error,omitempty"`
}

// T carries a running check's context; Fatalf ends the check (not the run).
type T struct {
	ctx  context.Context
	env  *env
	name string
}

type failure struct{ msg string }

func (t *T) Fatalf(format string, args ...any) { panic(failure{fmt.Sprintf(format, args...)}) }

func runCheck(ctx context.Context, e *env, c check) (r result) {
	start := time.Now()
	r = result{Check: c.name, OK: true}
	defer func() {
		r.MS = time.Since(start).Milliseconds()
		if p := recover(); p != nil {
			r.OK = false
			if f, ok := p.(failure); ok {
				r.Error = f.msg
			} else {
				r.Error = fmt.Sprintf("panic: %v", p)
			}
		}
	}()
	c.run(&T{ctx: ctx, env: e, name: c.name})
	return r
}

// must ends the check when err is not nil, saying what was being done.
func must(t *T, what string, err error) {
	if err != nil {
		t.Fatalf("%s: %s", what, describe(err))
	}
}

// describe names an error by what is safe to print: status, error code and inner code of a service
// answer (never its body beyond those), or the transport error.
func describe(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		s := fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)
		if inner := innerCode(re); inner != "" {
			s += " (innererror " + inner + ")"
		}
		return s
	}
	return err.Error()
}

// innerCode is error.innererror.code of a Key Vault error body, which the SDK does not surface.
func innerCode(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return ""
	}
	var parsed struct {
		Error struct {
			Inner *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &parsed) != nil || parsed.Error.Inner == nil {
		return ""
	}
	return parsed.Error.Inner.Code
}

// expectError asserts the call failed with this status and error code (and inner code, when not "").
func expectError(t *T, what string, err error, status int, code, inner string) {
	if err == nil {
		t.Fatalf("%s: succeeded, want HTTP %d %s", what, status, code)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v, want HTTP %d %s", what, err, status, code)
	}
	gotInner := innerCode(re)
	if re.StatusCode != status || re.ErrorCode != code || (inner != "" && gotInner != inner) {
		want := fmt.Sprintf("HTTP %d %s", status, code)
		if inner != "" {
			want += " (innererror " + inner + ")"
		}
		t.Fatalf("%s: got %s, want %s", what, describe(err), want)
	}
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// errRetry is what an attempt returns to be polled again though nothing failed.
var errRetry = errors.New("not there yet")

// eventually polls until attempt succeeds, for the operations the service finishes asynchronously.
// A failed attempt is retried only when its status is one of `retryOn`; other errors end the check.
func eventually(t *T, what string, attempt func() error, retryOn ...int) {
	deadline := time.Now().Add(t.env.settle)
	for {
		err := attempt()
		if err == nil {
			return
		}
		retryable := errors.Is(err, errRetry)
		for _, s := range retryOn {
			retryable = retryable || statusOf(err) == s
		}
		if !retryable {
			t.Fatalf("%s: %s", what, describe(err))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, describe(err), t.env.settle)
		}
		select {
		case <-t.ctx.Done():
			t.Fatalf("%s: %v", what, t.ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func expect(t *T, cond bool, format string, args ...any) {
	if !cond {
		t.Fatalf(format, args...)
	}
}

func expectEq[V comparable](t *T, what string, got, want V) {
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// expectValue compares a secret value without printing it.
func expectValue(t *T, what string, got *string, want string) {
	switch {
	case got == nil:
		t.Fatalf("%s: no value in the response", what)
	case *got != want:
		t.Fatalf("%s: the value differs from the one set (%d vs %d characters)", what, len(*got), len(want))
	}
}

func deref[V any](p *V) V {
	var zero V
	if p == nil {
		return zero
	}
	return *p
}

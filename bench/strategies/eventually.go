package main

import (
	"context"
	"fmt"
	"time"
)

// clock is the time source of eventually, so that its schedule is tested
// without waiting.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// The seed's polling: Gomega's Eventually(check, 2*time.Minute, 5*time.Second).
const (
	seedTimeout  = 2 * time.Minute
	seedInterval = 5 * time.Second
)

// timeoutError is eventually giving up.
type timeoutError struct {
	timeout time.Duration
	polls   int
	last    string
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("not ready after %s (%d polls): %s", e.timeout, e.polls, e.last)
}

// eventually polls check the way Gomega's Eventually(check, timeout,
// interval).Should(BeTrue()) does: once at once, then again interval after
// each poll returns (Gomega arms its polling timer after the poll, so a
// slow check stretches the period), until check says true. It gives up
// when timeout has passed since the start, without a last poll (when the
// timeout and a poll fall due together, Gomega's select picks either; this
// calls it a timeout). check returns whether it is satisfied and, if not,
// why, for the error. It returns how many polls it made.
func eventually(ctx context.Context, clk clock, timeout, interval time.Duration, check func(context.Context) (bool, string)) (int, error) {
	deadline := clk.Now().Add(timeout)
	polls := 0
	for {
		polls++
		ok, why := check(ctx)
		if ok {
			return polls, nil
		}
		if ctx.Err() != nil {
			return polls, ctx.Err()
		}
		wait := interval
		timedOut := false
		if rem := deadline.Sub(clk.Now()); rem <= interval {
			wait, timedOut = max(rem, 0), true
		}
		select {
		case <-ctx.Done():
			return polls, ctx.Err()
		case <-clk.After(wait):
		}
		if timedOut {
			return polls, &timeoutError{timeout: timeout, polls: polls, last: why}
		}
	}
}

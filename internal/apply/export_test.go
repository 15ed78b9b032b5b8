package apply

// KindWatchRunning reports whether a's kind watch runs (objects wait for
// their kinds); tests check that it stops.
func KindWatchRunning(a *Applier) bool {
	a.kinds.mu.Lock()
	defer a.kinds.mu.Unlock()
	return a.kinds.stop != nil
}

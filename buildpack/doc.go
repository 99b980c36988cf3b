// Package buildpack detects what an app needs that its Procfile does not say,
// so corral can run it with no configuration file: today, where a Django
// app's collected static files live, so the edge can serve them itself
// rather than tie up a single-threaded app server on every stylesheet.
//
// It looks at the app's files and, where only the app can answer (a Django
// settings module is Python code), asks the app's own interpreter. It runs
// nothing else and keeps no state between calls.
package buildpack

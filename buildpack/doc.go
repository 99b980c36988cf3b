// Package buildpack will detect an app that has no Procfile: what to run,
// what to build first and where its static files live. It is empty until
// corral's zero-config issue lands.
package buildpack

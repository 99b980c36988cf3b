// Package buildpack decides how to run an app that has no Procfile, the way
// Heroku's buildpacks, nixpacks or railpack would, without a container:
// Detect reads the app's files and returns a Plan (the kind of app, the
// command of each process type, the release command, the build steps, the
// static files the edge can serve) with the evidence for each decision, so
// that corral check can show it and corral init can write it down.
//
// Detection only reads files, through an os.Root of the app directory and
// with bounded sizes: it runs nothing, so it is as quick and as safe on a
// platform's start as on a laptop. The one question only the app can
// answer is asked at run time by FindDjangoStatic: a Django app's
// STATIC_ROOT, since settings are Python code.
package buildpack

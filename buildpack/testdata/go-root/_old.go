// An old version, kept for reference; go build skips files named _*.
package scratch

// The orders service and its client library.
module github.com/acme/orders

go 1.22

require github.com/lib/pq v1.10.9

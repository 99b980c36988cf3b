// Package orders is the client library of the orders service.
package orders

// Order is one order.
type Order struct{ ID int }

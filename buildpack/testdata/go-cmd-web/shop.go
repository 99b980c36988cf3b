// Package shop is the shop.
package shop

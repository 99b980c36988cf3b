// Command web serves the shop.
package main

func main() {}

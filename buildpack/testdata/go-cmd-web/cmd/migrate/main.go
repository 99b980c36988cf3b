// Command migrate migrates the database.
package main

func main() {}

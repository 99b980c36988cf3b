// Command listener is the floor of bench/boot.sh's bind times: a Go program
// that does nothing but listen on $PORT (all addresses, as corral's edge
// binds it) and accept and close connections, built like corral
// (go build, default flags). Whatever corral's bind takes beyond this
// program's is corral's own start: its packages' initialisation, its flags,
// its config. Standard library only.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listener:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "listener:", err)
			os.Exit(1)
		}
		c.Close()
	}
}

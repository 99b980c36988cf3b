module example.com/corral-go-example

go 1.22

module example.com/hello/v2

go 1.22

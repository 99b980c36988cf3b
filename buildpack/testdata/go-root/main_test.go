package main_test

import "testing"

func TestNothing(t *testing.T) {}

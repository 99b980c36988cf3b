package edge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guardFeed runs a fresh parser over data cut at the given lengths (the
// rest in one piece) and returns the violation and the final state.
func guardFeed(data []byte, cuts []int) (string, uint8) {
	var p guardParser
	p.reset()
	var v uint32
	for _, n := range cuts {
		n = min(n, len(data))
		if w := p.feed(data[:n]); w != guardOK {
			v = w
		}
		data = data[n:]
	}
	if w := p.feed(data); w != guardOK {
		v = w
	}
	return guardViolations[v], p.state
}

// randomCuts cuts n bytes into random pieces, mostly small, like reads
// off a slow network.
func randomCuts(rng *rand.Rand, n int) []int {
	var cuts []int
	for n > 0 {
		k := 1 + rng.IntN(min(n, 1+rng.IntN(64)))
		cuts = append(cuts, k)
		n -= k
	}
	return cuts
}

// guardCheck feeds data whole, byte by byte and in random pieces, fails
// the test if the results differ, and returns the result.
func guardCheck(t testing.TB, data []byte, seed uint64) (string, uint8) {
	t.Helper()
	v, st := guardFeed(data, nil)
	ones := make([]int, len(data))
	for i := range ones {
		ones[i] = 1
	}
	if v1, st1 := guardFeed(data, ones); v1 != v || st1 != st {
		t.Fatalf("byte by byte: %q, state %d; whole: %q, state %d\ninput: %q", v1, st1, v, st, data)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9a7d))
	for range 8 {
		cuts := randomCuts(rng, len(data))
		if v1, st1 := guardFeed(data, cuts); v1 != v || st1 != st {
			t.Fatalf("cut %v: %q, state %d; whole: %q, state %d\ninput: %q", cuts, v1, st1, v, st, data)
		}
	}
	return v, st
}

// guardSmuggle is a request that must be flagged wherever it starts a head.
const guardSmuggle = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"

const (
	vBoth = "both Content-Length and Transfer-Encoding"
	vDup  = "duplicate Content-Length"
	vFold = "obsolete line folding in a header"
	vTE10 = "Transfer-Encoding in an HTTP/1.0 request"
)

// guardFakeHead is body data that looks like the end of a head and the
// start of a smuggled request.
const guardFakeHead = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n folded\r\n\r\n0\r\n\r\n" + guardSmuggle

// guardCases are whole connections' worth of client bytes.
var guardCases = []struct {
	name, in, want string
}{
	// The three forms of ambiguity, and their variants.
	{"CL then TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", vBoth},
	{"TE then CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", vBoth},
	{"CL and TE any case", "POST / HTTP/1.1\r\nhost: a\r\ncontent-LENGTH: 5\r\nTRANSFER-encoding: CHUNKED\r\n\r\n", vBoth},
	{"CL and unsupported TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n", vBoth},
	{"CL and TE bare LF", "POST / HTTP/1.1\nHost: a\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n", vBoth},
	{"duplicate CL identical", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", vDup},
	{"duplicate CL differing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", vDup},
	{"duplicate CL apart", "POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\ncontent-length:5\r\n\r\nhello", vDup},
	{"obs-fold space", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", vFold},
	{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n", vFold},
	{"obs-fold first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", vFold},
	{"obs-fold bare LF", "GET / HTTP/1.1\nHost: a\nX-A: 1\n 2\n\n", vFold},
	{"obs-fold in trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n", vFold},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", vTE10},
	{"smuggle after GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n" + guardSmuggle, vBoth},
	{"smuggle after body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + guardSmuggle, vBoth},
	{"smuggle after chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + guardSmuggle, vBoth},
	{"smuggle after refused upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" + guardSmuggle, vBoth},

	// Legitimate traffic: nothing to flag, and the guard must end in step
	// with the framing (TestGuardLegit appends guardSmuggle to check).
	{"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
	{"keep-alive GETs", strings.Repeat("GET /a?b=c HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n", 3), ""},
	{"HEAD", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\n\r\n", ""},
	{"HTTP/1.0", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n", ""},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\nPOST / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi", ""},
	{"POST body that looks like a head",
		"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(guardFakeHead)) + "\r\n\r\n" + guardFakeHead +
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
	{"CL with white space and zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 0003 \t\r\n\r\nabc", ""},
	{"CL zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", ""},
	{"GET with a body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n\r\n\r\n", ""},
	{"names that are nearly ours",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Lengths: 5\r\nX-Content-Length: 5\r\nContent-Type: text/plain\r\n" +
			"Transfer-Encodings: chunked\r\nTE: trailers\r\nTransfer-Encodin: chunked\r\nContent-Length-X: 1\r\nCookie: a=b\r\nConnection: keep-alive\r\n\r\n", ""},
	{"values that look like ours", "GET / HTTP/1.1\r\nHost: a\r\nX-A: Content-Length: 5\r\nX-B: Transfer-Encoding: chunked\r\n\r\n", ""},
	{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", ""},
	{"chunked any case and white space", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: \t ChUnKeD \t\r\n\r\n0\r\n\r\n", ""},
	{"chunked extensions, trailers, header-like data",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			fmt.Sprintf("%X;name=\"va;l\\\"ue\";x\r\n%s\r\n", len(guardFakeHead), guardFakeHead) +
			"0000000000000005 \t\r\n\r\n\r\n\r\r\n" +
			"a;\r\n0\r\n\r\n0\r\n\r\n\r\n" +
			"0;end\r\nX-Sum: 1\r\nContent-Length: 7\r\nX-Other: y\r\n\r\n" +
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
	{"chunked, empty trailers bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", ""},
	{"CRLF after a POST", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
	{"upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", ""},
	{"large head", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Large: "+strings.Repeat("v", 1000)+"\r\n", 60) +
		"Cookie: " + strings.Repeat("c=d; ", 10000) + "\r\n\r\n", ""},
}

func TestGuardCases(t *testing.T) {
	for i, c := range guardCases {
		t.Run(c.name, func(t *testing.T) {
			v, st := guardCheck(t, []byte(c.in), uint64(i))
			if v != c.want {
				t.Fatalf("violation %q, want %q", v, c.want)
			}
			if v == "" && st != gsReqStart {
				t.Fatalf("ended in state %d, want %d (between requests)", st, gsReqStart)
			}
		})
	}
}

// TestGuardLegit checks that after each legitimate sequence the guard is
// still in step: a smuggling request appended is caught.
func TestGuardLegit(t *testing.T) {
	for i, c := range guardCases {
		if c.want != "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			if v, _ := guardCheck(t, []byte(c.in+guardSmuggle), uint64(i)); v != vBoth {
				t.Fatalf("smuggling request after it: violation %q, want %q", v, vBoth)
			}
		})
	}
}

// TestGuardStops checks input the guard gives up on, without a verdict:
// Go rejects it, or it is no HTTP/1 at all.
func TestGuardStops(t *testing.T) {
	for i, in := range []string{
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // TLS
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",              // CRLF after a GET
		"POST / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", // more than 4 after a POST
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\rX\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", // bare LF in a chunk line
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\r\n\r\n",
		"GET / HTTP/1.1\r\n\rX\r\n",
		"GET / HTTP/1.1\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1<<10)+"\r\n", 1<<10) + "\r\n",
	} {
		v, st := guardCheck(t, []byte(in), uint64(i))
		if v != "" || st != gsDone {
			t.Errorf("%.60q: violation %q, state %d; want none, stopped", in, v, st)
		}
	}
}

// guardTraffic generates a random keep-alive stream of legitimate requests
// in the forms net/http accepts, and the number of requests in it.
func guardTraffic(rng *rand.Rand) (stream []byte, n int) {
	var b bytes.Buffer
	eol := func() string { return []string{"\r\n", "\n"}[rng.IntN(2)] }
	text := func(max int) string {
		const pool = "abc XYZ:\r\n\t0123456789;\"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n \x00\xff"
		s := make([]byte, rng.IntN(max+1))
		for i := range s {
			s[i] = pool[rng.IntN(len(pool))]
		}
		return string(s)
	}
	for n = 0; n < 1+rng.IntN(6); n++ {
		method := []string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"}[rng.IntN(6)]
		v11 := rng.IntN(4) > 0
		fmt.Fprintf(&b, "%s /%s HTTP/1.%d%s", method, strings.Repeat("p", rng.IntN(20)), map[bool]int{false: 0, true: 1}[v11], eol())
		fmt.Fprintf(&b, "Host: example.com%s", eol())
		for range rng.IntN(5) {
			name := []string{"X-A", "Cookie", "Content-Type", "Content-Lengths", "TE", "Connection", "Accept"}[rng.IntN(7)]
			fmt.Fprintf(&b, "%s:%s%s%s", name, []string{"", " ", "\t "}[rng.IntN(3)], []string{"chunked", "Content-Length: 1", "keep-alive", "a=b; c=d"}[rng.IntN(4)], eol())
		}
		switch body := rng.IntN(3); {
		case body == 1:
			data := text(300)
			fmt.Fprintf(&b, "Content-Length:%s%s%d%s%s%s", []string{"", " ", "\t"}[rng.IntN(3)], strings.Repeat("0", rng.IntN(3)), len(data), []string{"", " "}[rng.IntN(2)], eol(), eol())
			b.WriteString(data)
		case body == 2 && v11:
			fmt.Fprintf(&b, "Transfer-Encoding: %s%s%s", []string{"chunked", "Chunked", "CHUNKED"}[rng.IntN(3)], eol(), eol())
			for range rng.IntN(4) {
				data := text(100)
				if data == "" {
					continue
				}
				size := fmt.Sprintf([]string{"%x", "%X", "%03x"}[rng.IntN(3)], len(data))
				fmt.Fprintf(&b, "%s%s\r\n%s\r\n", size, []string{"", " ", ";a", ";a=\"b c\"", "\t"}[rng.IntN(5)], data)
			}
			b.WriteString([]string{"0", "000", "0;z"}[rng.IntN(3)] + "\r\n")
			for range rng.IntN(3) {
				fmt.Fprintf(&b, "X-Trailer-%d: %s\r\n", rng.IntN(100), []string{"1", "Content-Length: 5"}[rng.IntN(2)])
			}
			b.WriteString("\r\n")
		default:
			b.WriteString(eol())
		}
		if method == "POST" {
			b.WriteString([]string{"", "\r\n", "\n", "\r\n\r\n"}[rng.IntN(4)])
		}
	}
	return b.Bytes(), n
}

// TestGuardAgreesWithGo generates legitimate traffic, checks that
// net/http reads it as the expected requests, and that the guard neither
// flags it nor loses step with it.
func TestGuardAgreesWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		stream, want := guardTraffic(rng)

		// net/http's reading, including its CR/LF tolerance after a POST.
		br := bufio.NewReader(bytes.NewReader(stream))
		got, lastPOST := 0, false
		for {
			if lastPOST {
				peek, _ := br.Peek(4)
				br.Discard(len(peek) - len(bytes.TrimLeft(peek, "\r\n")))
			}
			if _, err := br.Peek(1); err == io.EOF {
				break
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				t.Fatalf("stream %d: request %d: %v\n%q", i, got, err, stream)
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				t.Fatalf("stream %d: request %d: body: %v\n%q", i, got, err, stream)
			}
			got++
			lastPOST = req.Method == "POST"
		}
		if got != want {
			t.Fatalf("stream %d: Go read %d requests, want %d\n%q", i, got, want, stream)
		}

		if v, st := guardCheck(t, stream, uint64(i)); v != "" || st != gsReqStart {
			t.Fatalf("stream %d: violation %q, state %d\n%q", i, v, st, stream)
		}
		if v, _ := guardCheck(t, append(stream, guardSmuggle...), uint64(i)); v != vBoth {
			t.Fatalf("stream %d: smuggling request after it: violation %q\n%q", i, v, stream)
		}
	}
}

// FuzzGuard feeds random streams in random pieces: the guard must not
// panic, and its verdict must not depend on how the reads were cut.
func FuzzGuard(f *testing.F) {
	for _, c := range guardCases {
		f.Add([]byte(c.in), uint64(0))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		stream, _ := guardTraffic(rng)
		f.Add(stream, rng.Uint64())
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		guardCheck(t, data, seed)
	})
}

func TestViolationWithoutGuard(t *testing.T) {
	if v := Violation(context.Background()); v != "" {
		t.Fatalf("Violation = %q", v)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	ctx := context.Background()
	if got := GuardConnContext(ctx, c1); got != ctx {
		t.Fatal("GuardConnContext changed the context of a connection without a guard")
	}
}

// guardServer serves on loopback: with the guard, a handler that answers
// 400 on a violation; without it, plain net/http.
func guardServer(t *testing.T, guarded bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if v := Violation(r.Context()); v != "" {
				w.Header().Set("Connection", "close")
				http.Error(w, v, http.StatusBadRequest)
				return
			}
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%s %s %d\n", r.Method, r.URL.Path, n)
		}),
	}
	if guarded {
		srv.ConnContext = GuardConnContext
		ln = GuardListener(ln)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// guardExchange sends raw on a new connection and reads up to n
// responses; it stops early when the server closes.
func guardExchange(t *testing.T, addr, raw string, n int) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var got []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		body, _ := io.ReadAll(resp.Body)
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body))))
	}
	return got
}

func TestGuardEndToEnd(t *testing.T) {
	guarded, plain := guardServer(t, true), guardServer(t, false)
	const get = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
	const fake = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	post := "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(fake)) + "\r\n\r\n" + fake
	postAnswer := "200 POST /a " + strconv.Itoa(len(fake))
	for _, c := range []struct {
		name, raw string
		want      []string // from the guarded server
		plain     string   // net/http's own first answer
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
			[]string{"400 " + vBoth}, "200 POST / 0"},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\nx\r\n0\r\n\r\n" + get,
			[]string{"400 " + vBoth}, "200 POST / 1"},
		{"duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + get,
			[]string{"400 " + vDup}, "200 POST / 3"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n" + get,
			[]string{"400 " + vFold}, "200 GET / 0"},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]string{"400 " + vTE10}, "200 POST / 0"},
		{"smuggling after legitimate requests",
			post +
				"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
				"GET /c HTTP/1.1\r\nHost: a\r\n\r\n" +
				"POST /d HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n" + get,
			// The server reads ahead: the last head may be seen while the
			// first requests are still being answered.
			nil, postAnswer},
		{"legitimate keep-alive",
			post +
				"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
				"GET /c HTTP/1.1\nHost: a\n\n" + get,
			[]string{postAnswer, "200 POST /b 3", "200 GET /c 0", "200 GET /next 0"}, postAnswer},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := guardExchange(t, plain, c.raw, 1); len(got) == 0 || got[0] != c.plain {
				t.Fatalf("without the guard: %q, want %q first", got, c.plain)
			}
			n := len(c.want)
			if n == 0 {
				n = 5 // the server closes after its 400
			}
			got := guardExchange(t, guarded, c.raw, n)
			if c.want == nil {
				// Some of the first requests may be answered; the last
				// must not be, and the connection must end with a 400.
				if len(got) == 0 || got[len(got)-1] != "400 "+vDup || len(got) > 4 {
					t.Fatalf("got %q, want up to 3 answers then 400 %s", got, vDup)
				}
				return
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// guardLoopConn is a net.Conn whose reads replay data forever.
type guardLoopConn struct {
	net.Conn
	data []byte
	off  int
}

func (c *guardLoopConn) Read(b []byte) (int, error) {
	n := copy(b, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

// BenchmarkGuardRead measures the guard's cost per request on a keep-alive
// stream of small GETs, read 4 KiB at a time as net/http's bufio.Reader
// does; one op is one request.
func BenchmarkGuardRead(b *testing.B) {
	const req = "GET /api/items?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\nCookie: session=0123456789abcdef\r\n\r\n"
	for _, guarded := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "guarded"}[guarded], func(b *testing.B) {
			var c net.Conn = &guardLoopConn{data: []byte(strings.Repeat(req, 1000))}
			if guarded {
				c = newGuardConn(c)
			}
			buf := make([]byte, 4096)
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			b.ResetTimer()
			for left := b.N * len(req); left > 0; {
				n, _ := c.Read(buf[:min(len(buf), left)])
				left -= n
			}
			b.StopTimer()
			if g, ok := c.(*guardConn); ok && (g.p.state == gsDone || g.violation.Load() != guardOK) {
				b.Fatalf("guard stopped (state %d, violation %d)", g.p.state, g.violation.Load())
			}
		})
	}
}

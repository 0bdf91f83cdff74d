// Command vcsim-launcher serves VMware's vSphere simulator (govmomi's simulator package) on a loopback port for
// the ESX driver's tests and benchmark. It prints one line of space-separated key=value pairs
// (values query-escaped): url=<sdk url> datastore=<name> dsdir=<local directory of that datastore>, and with -tls
// sha256=<hex> sha1=<hex> (the server certificate's thumbprints), and serves until it is killed, gets
// SIGINT/SIGTERM, or (with -stdin) its standard input closes; the last two remove the model's temporary files.
//
// Build in GOPATH mode against Debian's golang-github-vmware-govmomi-dev:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o vcsim-launcher .
package main

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	vpx := flag.Bool("vpx", false, "simulate vCenter (datacenter, cluster, hosts) instead of a standalone ESX host")
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0 picks a free one)")
	useTLS := flag.Bool("tls", false, "serve https with the simulator's self-signed certificate")
	user := flag.String("username", "user", "the only user name Login accepts")
	password := flag.String("password", "pass", "the only password Login accepts")
	vms := flag.Int("vm", 0, "virtual machines the model creates per resource pool")
	stdin := flag.Bool("stdin", false, "exit when standard input closes")
	quiet := flag.Bool("quiet", true, "discard the simulator's own log")
	trace := flag.Bool("trace", false, "write every SOAP request and response to stderr")
	flag.Parse()

	if *quiet {
		log.SetOutput(ioutil.Discard)
	}
	simulator.Trace = *trace

	model := simulator.ESX()
	if *vpx {
		model = simulator.VPX()
	}
	model.Machine = *vms
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim-launcher: create model:", err)
		os.Exit(1)
	}

	model.Service.Listen = &url.URL{
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)),
		User: url.UserPassword(*user, *password),
	}
	if *useTLS {
		model.Service.TLS = new(tls.Config)
	}
	server := model.Service.NewServer()

	sdk := *server.URL
	sdk.User = nil
	line := "url=" + sdk.String()
	if ds, ok := simulator.Map.Any("Datastore").(*simulator.Datastore); ok {
		// Where the first datastore keeps its files, so tests can provision volumes (existing VMDKs) in it.
		line += " datastore=" + url.QueryEscape(ds.Name) + " dsdir=" + url.QueryEscape(ds.Info.GetDatastoreInfo().Url)
	}
	if *useTLS {
		der := server.Certificate().Raw
		s256 := sha256.Sum256(der)
		s1 := sha1.Sum(der)
		line += " sha256=" + hex.EncodeToString(s256[:]) + " sha1=" + hex.EncodeToString(s1[:])
	}
	fmt.Println(line)

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)
	if *stdin {
		go func() {
			_, _ = io.Copy(ioutil.Discard, os.Stdin)
			done <- syscall.SIGTERM
		}()
	}
	<-done

	server.Close()
	model.Remove()
}

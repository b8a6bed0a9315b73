// Command s3trail puts a trail directory into an S3 bucket in the
// organization trail layout, for the s3 source's benchmark (bench/s3.sh).
//
//	s3trail -trail DIR -bucket B -emulator 127.0.0.1:4599 -env FILE
//	    starts the project's AWS emulator there, fills the bucket, writes
//	    the environment a client needs to FILE and serves until SIGTERM;
//	s3trail -trail DIR -bucket B -endpoint URL
//	    fills the bucket of another S3 server (versitygw), with the
//	    credentials of the environment, and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athenawatch/athenawatch/internal/awsemu"
	"github.com/athenawatch/athenawatch/internal/awsemu/orgsim"
)

func main() {
	trail := flag.String("trail", "", "trail `directory` (AWSLogs/ACCOUNT/CloudTrail/...)")
	bucket := flag.String("bucket", "bench-trail", "bucket `name`")
	emuAddr := flag.String("emulator", "", "start the emulator on this `address`")
	endpoint := flag.String("endpoint", "", "S3 endpoint `URL` of another server")
	cpuProfile := flag.String("cpuprofile", "", "with -emulator, write a CPU profile of the emulator while it serves to `file`")
	envFile := flag.String("env", "", "with -emulator, write the client's environment to this `file` when the bucket is full")
	flag.Parse()
	if *trail == "" || (*emuAddr == "") == (*endpoint == "") || (*emuAddr != "") != (*envFile != "") {
		log.Fatal("want -trail and one of -emulator with -env, or -endpoint")
	}
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1"}
	var env string // what a client of the emulator needs
	if *emuAddr != "" {
		emu := awsemu.New(awsemu.Options{})
		srv, err := emu.Start(*emuAddr)
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Close()
		c := emu.AddUser("999999999999", "collector")
		cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")
		cfg.BaseEndpoint = aws.String(srv.URL)
		env = fmt.Sprintf("AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s", srv.URL, c.AccessKeyID, c.SecretAccessKey)
	} else {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
		cfg.BaseEndpoint = endpoint
	}
	d := orgsim.Delivery{Bucket: *bucket, Seed: 1, Concurrency: 16}
	objects, err := d.TrailObjects(*trail)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if err := d.Put(ctx, client, objects); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "s3trail: put %d objects in %.1fs\n", len(objects), time.Since(start).Seconds())
	if env == "" {
		return
	}
	// The file appears whole, when the bucket is full; the emulator then
	// serves until it is told to stop.
	if err := os.WriteFile(*envFile+".tmp", []byte(env+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(*envFile+".tmp", *envFile); err != nil {
		log.Fatal(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

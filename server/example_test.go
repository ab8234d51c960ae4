package server_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
	"github.com/topicd/topicd/server"
)

// Example serves the embedded default model in memory and classifies one document.
func Example() {
	m, err := models.Default()
	if err != nil {
		log.Fatal(err)
	}
	reg, err := server.NewRegistry(server.RegistryOptions{
		Builtin: []server.NamedModel{{Name: models.DefaultName, Model: m}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := server.New(reg, server.Options{})
	gs := grpc.NewServer(srv.ServerOptions()...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	defer gs.Stop()

	conn, err := grpc.NewClient("passthrough:///topicd",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	resp, err := topicdv1.NewClassifierServiceClient(conn).Classify(context.Background(), &topicdv1.ClassifyRequest{
		Document: &topicdv1.Document{Id: "a1", Text: "Ransomware gangs breached the ministry's servers."},
	})
	if err != nil {
		log.Fatal(err)
	}
	c := resp.Classification
	fmt.Println(c.DocumentId, c.Model, len(c.Scores), "labels")
	// Output: a1 news-topics 4 labels
}

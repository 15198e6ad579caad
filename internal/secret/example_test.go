package secret_test

import (
	"fmt"
	"log"

	"github.com/wardenproject/warden/internal/secret"
)

func ExampleSecret() {
	key := secret.FromString("sk-live-abc123")
	defer key.Destroy()

	fmt.Printf("%v %s %x %+v\n", key, key, key, struct{ APIKey secret.Secret }{key})
	fmt.Println(key.Len(), key.Equal(secret.FromString("sk-live-abc123")))
	// Output:
	// [REDACTED] [REDACTED] [REDACTED] {APIKey:[REDACTED]}
	// 14 true
}

func ExampleSeal() {
	master, err := secret.GenerateMasterKey(nil, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer master.Destroy()
	keys := func(version uint32) *secret.MasterKey {
		if version == master.Version() {
			return master
		}
		return nil
	}

	// Bind the envelope to the record it belongs to.
	ad := []byte("secret:42;name:openai-prod;version:1")
	envelope, err := secret.Seal(nil, master, []byte("sk-live-abc123"), ad)
	if err != nil {
		log.Fatal(err)
	}

	plaintext, err := secret.Open(keys, envelope, ad)
	if err != nil {
		log.Fatal(err)
	}
	defer plaintext.Destroy()
	fmt.Println(plaintext.RevealString(), len(envelope)-secret.Overhead)

	// Moved to another record, the envelope does not open.
	_, err = secret.Open(keys, envelope, []byte("secret:43;name:other;version:1"))
	fmt.Println(err != nil)
	// Output:
	// sk-live-abc123 14
	// true
}

func ExampleRewrap() {
	v1, err := secret.GenerateMasterKey(nil, 1)
	if err != nil {
		log.Fatal(err)
	}
	v2, err := secret.GenerateMasterKey(nil, 2)
	if err != nil {
		log.Fatal(err)
	}
	ring := map[uint32]*secret.MasterKey{1: v1, 2: v2}
	keys := func(v uint32) *secret.MasterKey { return ring[v] }

	envelope, err := secret.Seal(nil, v1, []byte("value"), nil)
	if err != nil {
		log.Fatal(err)
	}
	rotated, err := secret.Rewrap(nil, keys, v2, envelope, nil)
	if err != nil {
		log.Fatal(err)
	}
	version, keyID, err := secret.EnvelopeKey(rotated)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("now under version", version, keyID == v2.ID())

	delete(ring, 1) // once every record is rewrapped, v1 can go
	plaintext, err := secret.Open(keys, rotated, nil)
	fmt.Println(plaintext.RevealString(), err)
	// Output:
	// now under version 2 true
	// value <nil>
}

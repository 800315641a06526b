package sdk_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/plugins/sdk/sdktest"
)

// accounts is a tiny info plugin: one card per known customer.
type accounts map[string]string

func (a accounts) Cards(_ context.Context, e sdk.Engagement) ([]sdk.Card, error) {
	tier, ok := a[e.CustomerRef]
	if !ok {
		return nil, fmt.Errorf("customer: %w", sdk.ErrNotFound)
	}
	return []sdk.Card{{Title: "Account", Fields: []sdk.Field{{Key: "tier", Label: "Tier", Value: tier}}}}, nil
}

// This is how an integrator tests an info plugin in-process: sdktest serves
// it over gRPC exactly as the host would call it.
func Example() {
	plugin := &sdk.Plugin{Name: "accounts", Version: "1.0.0", Info: accounts{"C-1": "gold"}}
	conn, err := sdktest.Serve(plugin)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	cards, err := conn.Remote.Cards(context.Background(), sdk.Engagement{EngagementID: "e1", CustomerRef: "C-1"})
	fmt.Println(cards[0].Title, cards[0].Fields[0].Label, cards[0].Fields[0].Value, err)

	_, err = conn.Remote.Cards(context.Background(), sdk.Engagement{EngagementID: "e2", CustomerRef: "C-404"})
	fmt.Println(errors.Is(err, sdk.ErrNotFound))
	// Output:
	// Account Tier gold <nil>
	// true
}

// A plugin's main only calls Serve; the host starts the binary. (Not run
// here: Serve takes over the process.)
func ExampleServe() {
	sdk.Serve(&sdk.Plugin{Name: "accounts", Version: "1.0.0", Info: accounts{"C-1": "gold"}})
}

// upper is a skill plugin with one skill.
type upper struct{}

func (upper) Skills(context.Context) ([]sdk.Skill, error) {
	return []sdk.Skill{{Name: "shout", Description: "Upper-cases a text",
		InputSchema: `{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`}}, nil
}

func (upper) Invoke(_ context.Context, req sdk.InvokeRequest) (sdk.InvokeResult, error) {
	if req.Skill != "shout" {
		return sdk.InvokeResult{}, fmt.Errorf("skill %q: %w", req.Skill, sdk.ErrInvalidInput)
	}
	return sdk.InvokeResult{ResultJSON: strings.ToUpper(req.InputJSON), Message: "Done."}, nil
}

func ExampleSkillProvider() {
	conn, err := sdktest.Serve(&sdk.Plugin{Name: "upper", Version: "0.1.0", Skills: upper{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ctx := context.Background()
	skills, _ := conn.Remote.Skills(ctx)
	fmt.Println(skills[0].Name)
	res, err := conn.Remote.Invoke(ctx, sdk.InvokeRequest{Skill: "shout", InputJSON: `{"text":"hi"}`})
	fmt.Println(res.ResultJSON, res.Message, err)
	// Output:
	// shout
	// {"TEXT":"HI"} Done. <nil>
}

func ExampleCheckAPIVersion() {
	fmt.Println(sdk.CheckAPIVersion("1.2.0", "1.0.3"))
	fmt.Println(sdk.CheckAPIVersion("1.2.0", "2.0.0"))
	// Output:
	// <nil>
	// sdk: plugin speaks API 2.0.0, the host speaks API 1.2.0: major versions differ, rebuild the plugin against SDK v1.x
}

// vault is a keys plugin keeping named AES-256 keys in memory (a real one
// calls the site's HSM or key service). It wraps with AES-GCM, which is
// authenticated encryption, as the KeyProvider contract requires, and
// implements KeyManager so that the store can rotate keys by name.
type vault struct{ keys map[string][]byte }

func (v *vault) aead(keyID string) (cipher.AEAD, error) {
	k, ok := v.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", keyID, sdk.ErrNotFound)
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (v *vault) Wrap(_ context.Context, keyID string, pt []byte) ([]byte, string, error) {
	a, err := v.aead(keyID)
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, pt, []byte(keyID)), keyID, nil
}

func (v *vault) Unwrap(_ context.Context, keyID string, ct []byte) ([]byte, error) {
	a, err := v.aead(keyID)
	if err != nil {
		return nil, err
	}
	if len(ct) < a.NonceSize() {
		return nil, fmt.Errorf("short ciphertext: %w", sdk.ErrInvalidInput)
	}
	return a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], []byte(keyID))
}

func (v *vault) CreateKey(_ context.Context, keyID string) error {
	if _, ok := v.keys[keyID]; !ok {
		k := make([]byte, 32)
		rand.Read(k)
		v.keys[keyID] = k
	}
	return nil
}

func (v *vault) DestroyKey(_ context.Context, keyID string) error {
	delete(v.keys, keyID)
	return nil
}

// A keys plugin for the store: the store creates "<prefix>-<version>",
// wraps data keys under it, and destroys the old version after a rotation.
func Example_keys() {
	conn, err := sdktest.Serve(&sdk.Plugin{Name: "vault", Version: "1.0.0", Keys: &vault{keys: map[string][]byte{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ctx, r := context.Background(), conn.Remote

	fmt.Println(r.CreateKey(ctx, "earshot-kek-1"))
	ct, kid, err := r.Wrap(ctx, "earshot-kek-1", []byte("a data key"))
	fmt.Println(kid, err)
	pt, err := r.Unwrap(ctx, kid, ct)
	fmt.Println(string(pt), err)
	fmt.Println(r.DestroyKey(ctx, "earshot-kek-1"))
	_, err = r.Unwrap(ctx, kid, ct)
	fmt.Println(errors.Is(err, sdk.ErrNotFound))
	// Output:
	// <nil>
	// earshot-kek-1 <nil>
	// a data key <nil>
	// <nil>
	// true
}

package store

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Queue is a contact-centre queue: the unit that supervisors and analysts
// are scoped to.
type Queue struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// User is a member of staff or a service identity (role ingest).
type User struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"display_name,omitempty"`
	Role        string   `json:"role"`
	Queues      []string `json:"queues,omitempty"`
	// Licensed reports whether the user holds an expert-assist licence.
	Licensed bool `json:"licensed"`
	// Language is the user's preferred language (ISO 639-1) for reading
	// and writing chats; empty means the site's default.
	Language  string    `json:"language,omitempty"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateQueue stores a new queue; ErrExists if the ID is taken.
func (s *Store) CreateQueue(ctx context.Context, q Queue, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketQueues).Get([]byte(q.ID)) != nil {
			return fmt.Errorf("queue %q: %w", q.ID, ErrExists)
		}
		return s.unsafePutRecord(tx, bucketQueues, []byte(q.ID), q)
	})
}

// UpdateQueue replaces an existing queue; ErrNotFound if it does not exist.
func (s *Store) UpdateQueue(ctx context.Context, q Queue, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketQueues).Get([]byte(q.ID)) == nil {
			return fmt.Errorf("queue %q: %w", q.ID, ErrNotFound)
		}
		return s.unsafePutRecord(tx, bucketQueues, []byte(q.ID), q)
	})
}

// Queue returns one queue.
func (s *Store) Queue(id string) (Queue, error) {
	var q Queue
	err := s.db.View(func(tx *bbolt.Tx) error { return unsafeGetJSON(tx, bucketQueues, []byte(id), &q) })
	return q, err
}

// Queues returns every queue, ordered by ID.
func (s *Store) Queues(ctx context.Context) ([]Queue, error) {
	return listJSON[Queue](ctx, s, bucketQueues)
}

// DeleteQueue removes a queue and drops it from every user's membership.
func (s *Store) DeleteQueue(ctx context.Context, id string, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketQueues)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("queue %q: %w", id, ErrNotFound)
		}
		if err := unsafeDeleteRecord(tx, bucketQueues, []byte(id)); err != nil {
			return err
		}
		users := tx.Bucket(bucketUsers)
		type kv struct {
			k []byte
			u User
		}
		var changed []kv
		err := users.ForEach(func(k, v []byte) error {
			var u User
			if err := unsafeGetJSON(tx, bucketUsers, k, &u); err != nil {
				return err
			}
			kept := u.Queues[:0:0]
			for _, q := range u.Queues {
				if q != id {
					kept = append(kept, q)
				}
			}
			if len(kept) != len(u.Queues) {
				u.Queues = kept
				changed = append(changed, kv{append([]byte(nil), k...), u})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range changed {
			if err := s.unsafePutRecord(tx, bucketUsers, c.k, c.u); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateUser stores a new user; ErrExists if the ID is taken. Every queue
// the user belongs to must exist.
func (s *Store) CreateUser(ctx context.Context, u User, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(u.ID)) != nil {
			return fmt.Errorf("user %q: %w", u.ID, ErrExists)
		}
		if err := unsafeCheckQueues(tx, u.Queues); err != nil {
			return err
		}
		return s.unsafePutRecord(tx, bucketUsers, []byte(u.ID), u)
	})
}

// UpdateUser replaces an existing user.
func (s *Store) UpdateUser(ctx context.Context, u User, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(u.ID)) == nil {
			return fmt.Errorf("user %q: %w", u.ID, ErrNotFound)
		}
		if err := unsafeCheckQueues(tx, u.Queues); err != nil {
			return err
		}
		return s.unsafePutRecord(tx, bucketUsers, []byte(u.ID), u)
	})
}

func unsafeCheckQueues(tx *bbolt.Tx, ids []string) error {
	for _, q := range ids {
		if tx.Bucket(bucketQueues).Get([]byte(q)) == nil {
			return fmt.Errorf("queue %q: %w", q, ErrNotFound)
		}
	}
	return nil
}

// User returns one user.
func (s *Store) User(id string) (User, error) {
	var u User
	err := s.db.View(func(tx *bbolt.Tx) error { return unsafeGetJSON(tx, bucketUsers, []byte(id), &u) })
	return u, err
}

// Users returns every user, ordered by ID.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	return listJSON[User](ctx, s, bucketUsers)
}

// DeleteUser removes a user and revokes every token of theirs.
func (s *Store) DeleteUser(ctx context.Context, id string, audit ...AuditEntry) error {
	return s.recordsUpdate(ctx, audit, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(id)) == nil {
			return fmt.Errorf("user %q: %w", id, ErrNotFound)
		}
		if err := unsafeDeleteRecord(tx, bucketUsers, []byte(id)); err != nil {
			return err
		}
		return s.unsafeRevokeUserTokens(tx, id)
	})
}

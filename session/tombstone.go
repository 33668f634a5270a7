package session

import (
	"time"
)

// Sessions that end by themselves, from the client's side (it closed its
// peer connection, or left and ICE failed), leave a tombstone for a
// minute, so that their owner's DELETE, sent a moment later, answers 200
// rather than 404: some clients (medooze's whip-whep.js stop()) close the
// connection first and report a failed DELETE as an error. Sessions the
// server ended (reaped, revoked, stream gone) leave none: for them the
// 404 says what happened.

const (
	tombstoneFor = time.Minute
	maxTombs     = 10000
)

// tomb is what is kept of a session that ended by itself.
type tomb struct {
	creator Creator
	until   time.Time
}

// buryLocked keeps s's tombstone, dropping expired ones and, past
// maxTombs, the oldest. m.mu must be held.
func (m *Manager) buryLocked(s *Session, now time.Time) {
	for len(m.tombOrder) > 0 {
		oldest := m.tombOrder[0]
		if t, ok := m.tombs[oldest]; ok && now.Before(t.until) && len(m.tombOrder) < maxTombs {
			break
		}
		delete(m.tombs, oldest)
		m.tombOrder = m.tombOrder[1:]
	}
	m.tombs[s.ID] = tomb{creator: Creator{Owner: s.Owner, Client: s.Client}, until: now.Add(tombstoneFor)}
	m.tombOrder = append(m.tombOrder, s.ID)
}

// tombOf returns the tombstone of session id, if it ended lately.
func (m *Manager) tombOf(id string, now time.Time) (tomb, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tombs[id]
	if !ok || !now.Before(t.until) {
		return tomb{}, false
	}
	return t, true
}

package engine

import (
	"time"

	"github.com/nsed/nsed/models"
)

// SchemaVersion is the transcript format version. Bump it when an event's
// JSON changes incompatibly; readers refuse versions they don't know.
const SchemaVersion = 1

// Phase is a step of a round.
type Phase string

const (
	PhasePropose   Phase = "propose"   // every agent writes a proposal
	PhaseReview    Phase = "review"    // every agent scores every other proposal
	PhaseVote      Phase = "vote"      // quadratic voting turns scores into support
	PhaseConsensus Phase = "consensus" // the forget gate updates the carried state
)

// Phases lists a round's phases in order.
var Phases = []Phase{PhasePropose, PhaseReview, PhaseVote, PhaseConsensus}

// Kind names an event type; it is the "kind" field of every transcript line.
type Kind string

const (
	KindRunStarted       Kind = "run_started"
	KindPhaseStarted     Kind = "phase_started"
	KindToken            Kind = "token"
	KindProposalDone     Kind = "proposal_done"
	KindReviewDone       Kind = "review_done"
	KindVotesCast        Kind = "votes_cast"
	KindConsensusUpdated Kind = "consensus_updated"
	KindRoundEnded       Kind = "round_ended"
	KindAgentFailed      Kind = "agent_failed"
	KindRebound          Kind = "rebound"
	KindBroker           Kind = "broker"
	KindHumanMessage     Kind = "human_message"
	KindPaused           Kind = "paused"
	KindResumed          Kind = "resumed"
	KindRunEnded         Kind = "run_ended"
	// KindRunResumed opens the part of a transcript that `nsed resume`
	// appended ("resumed" is taken: it ends a pause).
	KindRunResumed Kind = "run_resumed"
)

// Envelope is the header every event shares. Agent is the agent id ("a1"…)
// the event is about, empty for run-wide events.
type Envelope struct {
	V     int       `json:"v"`
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	RunID string    `json:"run"`
	Kind  Kind      `json:"kind"`
	Round int       `json:"round,omitempty"`
	Phase Phase     `json:"phase,omitempty"`
	Agent string    `json:"agent,omitempty"`
}

// Header gives access to the envelope of any event.
func (e *Envelope) Header() *Envelope { return e }

// Event is any of the event types below (always as a pointer).
type Event interface {
	Header() *Envelope
}

// Sink receives events. Emit is called from the engine's goroutines, one
// event at a time and in sequence order; it must not block for long (slow
// consumers buffer, and may coalesce Token events but nothing else).
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

func (f SinkFunc) Emit(e Event) { f(e) }

// Tee sends every event to each sink in order.
func Tee(sinks ...Sink) Sink {
	return SinkFunc(func(e Event) {
		for _, s := range sinks {
			if s != nil {
				s.Emit(e)
			}
		}
	})
}

// AgentInfo is an agent's binding: which model on which host plays which role.
type AgentInfo struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Model string `json:"model"`
	Host  string `json:"host,omitempty"`
	// BoundBy says who chose the model: "config", "flag", "broker" or
	// "user" (a rebind); Reason is the broker's explanation.
	BoundBy string `json:"bound_by,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Options are the agent's own model options ([[agents]] think,
	// think_budget, num_predict, …), which win over the phase's; nil: none.
	Options *AgentOptions `json:"options,omitempty"`
}

// CallStats are the measurements of one model call.
type CallStats struct {
	PromptTokens int     `json:"prompt_tokens"`
	OutputTokens int     `json:"output_tokens"`
	WallMS       float64 `json:"wall_ms"`
	LoadMS       float64 `json:"load_ms,omitempty"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	Attempts     int     `json:"attempts,omitempty"`
	DoneReason   string  `json:"done_reason,omitempty"`
	// ContextFull means the prompt filled the model's context window: the
	// server will have cut it, so raise num_ctx (or lower proposal_chars).
	ContextFull bool `json:"context_full,omitempty"`
	// NumCtx is the context the call asked for, sized from its prompt
	// (sampling num_ctx doubled as needed, up to deliberation.max_ctx).
	NumCtx int `json:"num_ctx,omitempty"`
	// ContextWarning says the prompt could not fit even at max_ctx (the
	// server cuts it) and what to change; empty when it fit.
	ContextWarning string `json:"context_warning,omitempty"`
	// ThinkRetried: the first try spent its whole budget thinking with no
	// answer, so the call was made again with thinking off.
	ThinkRetried bool `json:"think_retried,omitempty"`
}

func statsOf(r models.Response, attempts int, numCtx int) CallStats {
	return CallStats{
		ContextFull:  numCtx > 0 && r.PromptTokens >= numCtx-8,
		PromptTokens: r.PromptTokens,
		OutputTokens: r.OutputTokens,
		WallMS:       ms(r.Wall),
		LoadMS:       ms(r.Load),
		TokensPerSec: r.TokensPerSecond(),
		Attempts:     attempts,
		DoneReason:   r.DoneReason,
		ThinkRetried: r.ThinkRetried,
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// RunStarted opens every run.
type RunStarted struct {
	Envelope
	// Protocol names how the run deliberates: ProtocolNSED, or a
	// benchmark baseline ("first-round", "majority", "debate", "moa").
	// Transcripts written before NSED named itself leave it empty.
	Protocol string      `json:"protocol,omitempty"`
	Question string      `json:"question"`
	Agents   []AgentInfo `json:"agents"`
	Settings Settings    `json:"settings"`
	// Provenance is which nsed, servers and exact models ran it; absent in
	// transcripts of older versions and where nobody gathered it (tests).
	Provenance *models.Provenance `json:"provenance,omitempty"`
}

// ProtocolNSED is run_started's protocol for an NSED run.
const ProtocolNSED = "nsed"

// PhaseStarted marks the start of Round/Phase (in the envelope).
type PhaseStarted struct {
	Envelope
}

// Token is streamed model output. Phase says which call it belongs to
// (propose, review, or consensus for the synthesis summary). Consumers may
// coalesce tokens; the finished text always arrives in a Done event.
type Token struct {
	Envelope
	Text string `json:"text"`
}

// ProposalDone carries an agent's finished proposal.
type ProposalDone struct {
	Envelope
	Model  string `json:"model"`
	Text   string `json:"text"`   // the whole reply as the model wrote it
	Answer string `json:"answer"` // the final solution extracted from it
	// Thinking is a reasoning model's thinking, recorded for study but never
	// shown to reviewers.
	Thinking string    `json:"thinking,omitempty"`
	Stats    CallStats `json:"stats"`
	// Flags name the ways the proposal's prose addresses its reviewers
	// ("addresses reviewers", "score request", "fence imitation", …). The
	// text is not changed; reviewers are told to disregard such text.
	Flags []string `json:"flags,omitempty"`
	// NoAnswer, when set, is why the proposal has no text (NoAnswerThinking:
	// the model spent its budget thinking, twice); such a proposal sits out
	// the round's review and vote.
	NoAnswer string `json:"no_answer,omitempty"`
}

// Verdicts a reviewer may give a claim.
const (
	VerdictVerified   = "verified"
	VerdictContested  = "contested"
	VerdictUnverified = "unverified"
	VerdictWrong      = "wrong"
)

// Claim is a pivotal claim a reviewer quoted, with its verdict.
type Claim struct {
	Text    string `json:"text"`
	Verdict string `json:"verdict"`
}

// Evaluation is one reviewer's judgement of one candidate.
type Evaluation struct {
	Author   string  `json:"author"` // agent id of the proposal's author
	Label    string  `json:"label"`  // the opaque label the reviewer saw
	Weight   int     `json:"weight"` // endorsement in [-100, 100]
	Stance   string  `json:"stance"`
	Claims   []Claim `json:"claims,omitempty"`
	Critique string  `json:"critique,omitempty"`
}

// ReviewDone carries one reviewer's evaluations of every other proposal, or
// an abstention when its output never validated.
type ReviewDone struct {
	Envelope
	Model       string            `json:"model"`
	Labels      map[string]string `json:"labels"` // label -> author agent id, as shown to this reviewer
	Evaluations []Evaluation      `json:"evaluations,omitempty"`
	Abstained   bool              `json:"abstained,omitempty"`
	Reason      string            `json:"reason,omitempty"` // why it abstained
	Raw         string            `json:"raw,omitempty"`    // last invalid output, when it abstained
	Stats       CallStats         `json:"stats"`
}

// Allocation is what one voter spent on one proposal. Votes² == Credits.
type Allocation struct {
	Author  string  `json:"author"`
	Weight  int     `json:"weight"`
	Credits float64 `json:"credits"`
	Votes   float64 `json:"votes"` // signed: negative is opposition
}

// Ballot is one voter's quadratic-vote spending in a round.
type Ballot struct {
	Voter       string       `json:"voter"`
	Abstained   bool         `json:"abstained,omitempty"`
	Allocations []Allocation `json:"allocations,omitempty"`
	Spent       float64      `json:"spent"`
}

// VotesCast is the tally of a round.
type VotesCast struct {
	Envelope
	Budget     float64            `json:"budget"` // credits per voter per round
	Ballots    []Ballot           `json:"ballots"`
	Support    map[string]float64 `json:"support"` // author -> sum of votes received
	Winner     string             `json:"winner"`
	Conviction float64            `json:"conviction"` // winning cluster's support / Σ|support| (clusters.go)
	// Clusters group the proposals by normalised final answer, with their
	// total support; Cluster is the winning one's id. NoWinner says why a
	// round has no winner (every reviewer abstained); Winner is then "".
	Clusters []Cluster `json:"clusters,omitempty"`
	Cluster  string    `json:"cluster,omitempty"`
	NoWinner string    `json:"no_winner,omitempty"`
}

// GateItem is one piece of carried state as the forget gate judged it.
type GateItem struct {
	Kind      string  `json:"kind"` // leader, claim, critique, finding, human
	Agent     string  `json:"agent,omitempty"`
	Text      string  `json:"text"`
	Retention float64 `json:"retention"`
	Tokens    int     `json:"tokens"`
}

// ConsensusUpdated is the state after the forget gate.
type ConsensusUpdated struct {
	Envelope
	Leader       string     `json:"leader"`
	LeaderAnswer string     `json:"leader_answer"`
	Gamma        float64    `json:"gamma"` // retention factor applied per round of age
	Kept         []GateItem `json:"kept"`
	Dropped      []GateItem `json:"dropped,omitempty"`
	Summarised   bool       `json:"summarised,omitempty"`
	Truncated    bool       `json:"truncated,omitempty"`
	StateTokens  int        `json:"state_tokens"`
	BudgetTokens int        `json:"budget_tokens"`
	State        string     `json:"state"` // the brief as the next round's prompts will see it
}

// RoundEnded closes a round with the stopping rule's verdict.
type RoundEnded struct {
	Envelope
	Winner       string             `json:"winner"`
	Support      map[string]float64 `json:"support"`
	Conviction   float64            `json:"conviction"`
	Utility      float64            `json:"utility"`  // U(t) of the efficiency-fatigue curve
	Marginal     float64            `json:"marginal"` // U'(t)
	Evidence     float64            `json:"evidence"` // accumulated conviction × marginal utility
	Target       float64            `json:"target"`   // evidence needed to stop
	Continue     bool               `json:"continue"`
	StopReason   string             `json:"stop_reason,omitempty"`
	PromptTokens int                `json:"prompt_tokens"` // this round, all calls
	OutputTokens int                `json:"output_tokens"`
	// Cluster is the winning answer cluster's id (votes_cast lists them);
	// NoWinner says why Winner is empty.
	Cluster  string `json:"cluster,omitempty"`
	NoWinner string `json:"no_winner,omitempty"`
	// Carry is what the next round starts from that the other events do not
	// say exactly, so a killed run resumes as if it never stopped.
	Carry *Carry `json:"carry,omitempty"`
}

// Carry is the part of a round's end a resumed run needs: the gated state
// item by item (consensus_updated shows it rounded and rendered) and the
// positions of the run's seeded streams (label shuffles, tie draws).
type Carry struct {
	State []CarriedItem `json:"state"`
	// Labels and Ties are the PCG states, as math/rand/v2 marshals them,
	// in hex.
	Labels string `json:"labels"`
	Ties   string `json:"ties"`
}

// CarriedItem is one item of the gated state, exactly as the gate keeps it.
type CarriedItem struct {
	Kind    string  `json:"kind"`
	Agent   string  `json:"agent,omitempty"`
	Key     string  `json:"key,omitempty"`
	Text    string  `json:"text"`
	Verdict string  `json:"verdict,omitempty"`
	Weight  float64 `json:"weight"`
	Last    int     `json:"last"` // the round it was last reinforced
}

// AgentFailed reports a call that failed. Fatal failures end the run.
type AgentFailed struct {
	Envelope
	Model string `json:"model"`
	Host  string `json:"host,omitempty"`
	Error string `json:"error"`
	Fatal bool   `json:"fatal,omitempty"`
}

// Rebound records a binding change taking effect.
type Rebound struct {
	Envelope
	From   AgentInfo `json:"from"`
	To     AgentInfo `json:"to"`
	By     string    `json:"by"` // "user" or "broker"
	Reason string    `json:"reason,omitempty"`
}

// BrokerReport is what the broker (Config.Rebalance) reported between
// rounds besides its changes, which are recorded as rebound events when
// they take effect. What is BrokerError: it could not re-solve, and the team
// stays as it is.
type BrokerReport struct {
	Envelope
	What    string `json:"what"`
	Message string `json:"message"`
}

// What a broker report says happened.
const BrokerError = "error"

// HumanMessage is a message injected by the user; it enters the next round's context.
type HumanMessage struct {
	Envelope
	Text string `json:"text"`
}

// Paused and Resumed record pauses taking effect at phase boundaries.
type Paused struct{ Envelope }
type Resumed struct{ Envelope }

// RunResumed opens what `nsed resume` appended to an interrupted run's
// transcript: the run goes on after round After (its last complete round);
// Reason is how the earlier part ended (one of the Ended… constants).
// Events of a round after After that precede it were discarded: that
// round is run again.
type RunResumed struct {
	Envelope
	After  int         `json:"after"`
	Reason string      `json:"reason"`
	Error  string      `json:"error,omitempty"` // the earlier part's error, when it failed
	Agents []AgentInfo `json:"agents"`          // the bindings the run goes on with
}

// How the part of a run before a resume ended.
const (
	EndedKilled     = "killed"      // no run_ended: the process died
	EndedCancelled  = "cancelled"   // Ctrl-C, q, or the transcript could not be written
	EndedFailed     = "failed"      // a round failed
	EndedServerDied = "server died" // it failed because a model server stopped answering
)

// Run statuses.
const (
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
	StatusFailed    = "failed"
)

// AgentMetrics are per-agent totals over a run.
type AgentMetrics struct {
	Agent        string  `json:"agent"`
	Model        string  `json:"model"`
	Calls        int     `json:"calls"`
	Failures     int     `json:"failures"`
	Abstentions  int     `json:"abstentions"`
	PromptTokens int     `json:"prompt_tokens"`
	OutputTokens int     `json:"output_tokens"`
	Wins         int     `json:"wins"`
	MeanSupport  float64 `json:"mean_support"`
	TokensPerSec float64 `json:"tokens_per_sec"`
}

// RunEnded closes every run, including cancelled and failed ones.
type RunEnded struct {
	Envelope
	Status       string         `json:"status"`
	Reason       string         `json:"reason"`
	Error        string         `json:"error,omitempty"`
	Winner       string         `json:"winner,omitempty"`
	Answer       string         `json:"answer,omitempty"`
	Proposal     string         `json:"proposal,omitempty"` // the winner's whole final proposal
	Rounds       int            `json:"rounds"`             // rounds completed
	PromptTokens int            `json:"prompt_tokens"`
	OutputTokens int            `json:"output_tokens"`
	WallMS       float64        `json:"wall_ms"`
	Agents       []AgentMetrics `json:"agents"`
	// AnswerRound is the round the answer comes from: the last round that
	// had a winner (rounds where every reviewer abstained have none).
	AnswerRound int `json:"answer_round,omitempty"`
}

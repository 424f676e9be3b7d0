// Package broker binds models to roles: the paper's Dynamic Expertise
// Broker. Given the roles a run needs, the models installed on every Ollama
// host (with live telemetry: memory, speed, whether loaded), a budget, and an
// expected quality per (role, model) learned from earlier runs, it picks the
// team that maximises expected quality within the budget, and says why.
//
// # Model
//
// A binding assigns every role slot r one candidate c, a (host, model)
// pair. Constraints:
//
//   - Memory, per host h: the models bound on h must fit its memory budget.
//     A model loaded once serves every agent bound to it on that host, so
//     memory is charged once per distinct (host, model) in use, not once per
//     agent. This fixed charge is what makes the problem not a plain
//     (multiple-)knapsack: an item's weight depends on whether another role
//     already pays for it.
//   - Round time, per host (optional): Ollama answers one request after
//     another per host in our model (the conservative reading of
//     OLLAMA_NUM_PARALLEL=1), while hosts run in parallel, so a round takes
//     max over hosts of Σ over the agents on h of
//     (2 × first-token latency + expected output tokens / tokens per second);
//     the 2 is the propose and review calls. The budget bounds every host's
//     sum. Prompt evaluation is folded into the measured latency.
//   - Output tokens per round (optional): Σ over agents of the candidate's
//     expected output tokens. A run's token budget divided by its rounds.
//   - Pins: a slot the user pinned may only take that model (on that host,
//     if named). A manual rebind from the TUI is a pin.
//   - MaxPerModel (optional): a hard cap on agents per model name.
//
// Objective, maximised:
//
//	Σ_m  S_m / (1 + (k_m − 1)·ρ)   +  stickiness · #(slots keeping their current binding)
//	                                −  swap · Σ_{loaded fresh (h, m)} load seconds
//
// where k_m agents play model m (on any host), S_m is the sum of their values
// v(r, c) = quality(role, model) × (1 − failure rate), and ρ is
// Weights.Correlation.
//
// # Diversity
//
// The first term is the diversity rule. Copies of one model make correlated
// mistakes, so k copies are not k independent opinions: for k voters whose
// errors have pairwise correlation ρ, the effective number of independent
// voters is k / (1 + (k − 1)·ρ) (the design effect of equicorrelated
// samples). Each copy's value is scaled by 1 / (1 + (k − 1)·ρ); with the
// default ρ = 0.5 a second copy of a model adds a third of its value and a
// third copy a sixth. The same model with the same value scores strictly
// less than two different models, so the broker spreads roles over models
// unless the alternatives are much worse or do not fit; ρ = 0 turns the
// preference off ("the same model everywhere is fine"), ρ = 1 makes extra
// copies worth nothing. Different hosts do not make copies independent:
// the rule counts model names.
//
// # Solving
//
// Exact: depth-first branch and bound over role slots (pinned and scarcest
// first), candidates in order of value. The upper bound for the slots still
// open is, for each slot separately, the best v / (1 + k_m·ρ) + stickiness
// over candidates that still fit on their own (their model already loaded
// there, or its memory within what is left; time, tokens and caps likewise).
// It is valid because a slot's true marginal gain can only be smaller: the
// diversity discount grows with k, memory, time and tokens only shrink, and
// swap costs only subtract. Slots that are interchangeable (same role, no pin,
// no current binding) are filled in non-decreasing candidate order, which
// removes permutations of the same team. A greedy binding improved by local
// search seeds the incumbent, so most of the tree is pruned at once.
//
// Fallback: beyond ExactLimitRoles slots or ExactLimitCandidates
// candidates, or when the search exceeds Problem.MaxNodes nodes, the broker
// returns the greedy + local-search binding (single-slot moves and pairwise
// swaps until no move improves) and marks it Exact = false.
//
// # Infeasible budgets
//
// When nothing fits, InfeasibleError names the smallest budget that would:
// first memory (the least per-host budget admitting a binding, found by an
// exact min-max search), then, with that memory, round time, then tokens.
package broker

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
// First, when no round-time budget applies (modeldp.go): a search over
// models rather than slots. Interchangeable slots (same values, pins and
// current binding) form classes, so a partial team is a count per class
// plus the memory it uses per host. For a fixed number k of agents on a
// model the diversity discount 1/(1+(k−1)ρ) is a common factor, so "model
// m on these hosts taking a[c] slots of each class" has an exact linear
// value. Partial teams dominated by another with the same counts (no more
// value, no less memory on any host) are dropped, and two bounds — exact in
// the class counts with memory priced, and an exact per-host 0/1 memory
// knapsack with classes priced — prune the rest. The search first looks
// only above a target just under the root bound and lowers it 1% at a time,
// since the greedy incumbent is often 10–15% below the optimum. Its binding
// is re-checked by the same evaluator as every other.
//
// Otherwise, or when that search exceeds its label limit: depth-first
// branch and bound over role slots (pinned and scarcest
// first), candidates in order of value. A greedy binding improved by local
// search (single-slot moves, swaps, and moving every slot on one model to
// another, which swaps a loaded model out) seeds the incumbent; a second
// greedy guided by the memory and time prices of the relaxation below
// often improves it. Slots that are interchangeable (same values, pins and
// current binding, as every slot is while qualities sit at their prior) are
// filled in non-decreasing candidate order, which removes permutations of
// the same team. Nodes are pruned by a cascade of upper bounds, cheapest
// first, each valid on its own:
//
//   - per slot: each open slot's best v / (1 + k_m·ρ) + stickiness over
//     candidates that still fit on their own. Valid because a slot's true
//     marginal gain can only be smaller: the diversity discount grows with
//     k, budgets only shrink, swap costs only subtract. Too optimistic when
//     slots compete for memory or for the same model.
//   - Lagrangian relaxations (bound.go) in which each candidate takes a
//     group of slots at its exact group value, "each slot exactly once" is
//     priced by a multiplier per slot, round time by a price per host, and
//     memory is kept hard: per host a 0/1 knapsack over the models loaded
//     fresh (memory rounded down, which keeps it a relaxation), with and
//     without the count of agents, and pooled over hosts with each model one
//     group wherever it runs. The multipliers are tuned once at the root by
//     subgradient steps.
//
// Fallback: beyond ExactLimitRoles slots or ExactLimitCandidates
// candidates Solve returns the greedy + local-search binding; when the exact
// search exceeds Problem.MaxNodes nodes (DefaultMaxNodes, a fraction of a
// second to a few seconds) it returns the best binding found. Either way
// Exact is false and Bound, an upper bound proven at the root, says how far
// from optimal the binding can be.
//
// Measured (AMD EPYC, 2 shared cores, go test -bench): 3, 5 and 8 slots
// over 30 candidates on 3 hosts solve exactly in 0.2–0.3, 0.4–0.5 and
// 0.9–1.0 ms; 12 slots in 4–5 ms, always proven optimal (the model
// search's root gap is 3–5%, and setting up its bounds costs about 1.5
// ms). With a round-time
// budget the branch and bound still runs: 12 slots take about 0.1 s, and
// 12 slots over 90 candidates hit the node limit (Exact false, with a proven
// Bound). See BenchmarkSolve* for the cases.
//
// # Infeasible budgets
//
// When nothing fits, InfeasibleError names the smallest budget that would:
// first memory (the least per-host budget admitting a binding, found by an
// exact min-max search with time and tokens unlimited), then, with that
// memory, round time, then tokens; so the suggested budgets together admit
// a binding.
package broker

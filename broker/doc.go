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
// Solve takes at most MaxRoles slots (runs have at most 8 agents),
// MaxModels distinct models and MaxHosts hosts, and refuses more with an
// error that says what to cut. Within these it is exact (search.go): a
// depth-first branch and bound over slots, pinned and scarce slots first,
// interchangeable slots (same values, pins and current binding, as every
// slot is while qualities sit at their prior) adjacent and filled in
// candidate order so permutations of one team are not searched twice;
// each slot's candidates tried best bound first. Two bounds prune, each
// valid for any prices: a per-slot bound (each open slot's best value at
// the copies already bound, less what its memory, swap cost and round
// time would cost at per-host prices, the memory and swap shared by the
// slots that might share the model) and a group bound that sees diversity
// among the open slots: a of them on one model are each discounted at
// least by 1/(1+(k+a−1)ρ), and a knapsack over models with Σ a = the
// open slots, "each slot in one group" priced by a multiplier per slot,
// bounds every completion. The prices are tuned once at the root by
// subgradient steps; every step's groups are also repaired into a binding
// (a Lagrangian heuristic), which with a greedy start gives the search an
// incumbent at or near the optimum. A branch within 1e-7 of the incumbent
// is not explored, so ties are not chased through rounding.
//
// The search stops at Problem.MaxNodes nodes (DefaultMaxNodes; a node
// takes 5–20 µs); then the best binding found is returned with Exact
// false and Bound, proven at the root, saying how far from optimal it can
// be. The hard instances are at the full size with a tight round-time
// budget (two agents a host): of 255 feasible random instances drawn to
// be hard, one hit the limit and two took 10 s (the solver this one
// replaced missed ten of them at its limit of 100 000 nodes).
//
// Measured (AMD EPYC, 2 cores shared with other jobs, load 3–4,
// go test -bench): 8 agents over 50 models on each of 4 hosts, 60–75 ms
// with or without a round-time budget (about 1 000 nodes); 5 agents over
// 20 models on 2 hosts, 2–3 ms; 3, 5 and 8 agents over 30 candidates on 3
// hosts, 0.5–0.8, 2–3 and 30 ms. See BenchmarkSolve*.
//
// # Infeasible budgets
//
// When nothing fits, InfeasibleError names the smallest budget that would:
// first memory (the least per-host budget admitting a binding, found by an
// exact min-max search with time and tokens unlimited), then, with that
// memory, round time, then tokens; so the suggested budgets together admit
// a binding.
package broker

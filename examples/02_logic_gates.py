"""Logic gates: OR, AND, XOR, NAND and NOR with the notes' small networks, and the slides'
XOR comparison of logistic against ReLU hidden units.

Reproduces three worked examples:

1. ``shaw_14_ann_2025`` section 1.2.29 "Deep Learning in a few lines" (also in the 2024
   notes): a 2-4-1 sigmoid network, weights drawn from U[0, 1), the gradient of the total
   squared error summed over the four rows, learning rate 0.1, 1,000 full-batch steps. The
   notes print ``XOR [0. 1. 1. 1.]``: 1,000 steps are not enough for XOR. We print the same
   table, then train 10,000 steps, which solves XOR.
2. ``hjorth-jensen_ffnn_2024``, "Testing our code for the XOR, OR and AND gates": a single
   sigmoid neuron (logistic regression, ``FFNN((2, 1))`` trained with Adam, eta = 0.1, 1,000
   epochs) learns every gate but XOR, which is not linearly separable; the notes' two-unit
   hidden layer (``n_hidden_neurons = 2``) can learn XOR too.
3. ``intro_nn_slides``, "Example: Sigmoid (logistic) vs ReLU to learn XOR function":
   scikit-learn's ``MLPClassifier(hidden_layer_sizes=(2,), max_iter=10000, random_state=20)``
   scores 0.5 with logistic units and 1.0 with ReLU. cmlp runs the same recipe (2-2-1,
   cross-entropy, Adam lr 1e-3, L2 alpha 1e-4, full batch, Glorot-uniform start as
   scikit-learn draws it) over several seeds, once with scikit-learn's stopping rule (stop
   when the training loss has not improved by tol = 1e-4 for 10 epochs) and once for the whole
   10,000 epochs. The rule is what sinks the logistic units: their loss creeps down slower than
   tol per epoch at first, so training stops after a few dozen epochs at chance; given the
   full budget they solve XOR about as often as ReLU units. With scikit-learn installed, the
   slides' own code is run too.

    python examples/02_logic_gates.py [--seed 0] [--seeds 10] [--out plots/] [--quick]
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import cmlp

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
GATES = {
    "OR": [0, 1, 1, 1],
    "AND": [0, 0, 0, 1],
    "XOR": [0, 1, 1, 0],
    "NAND": [1, 1, 1, 0],
    "NOR": [1, 0, 0, 0],
}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the gate networks")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds 0..n-1 in the logistic/ReLU comparison (default 10; "
                             "2 with --quick)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write xor_cost.png (the comparison's loss curves) here")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: XOR only in the 10,000-step run, 2 seeds and 2000 "
                             "epochs in the comparison, scikit-learn's own run skipped")
    return parser.parse_args(argv)


def pyplot_for(out):
    """pyplot with the file-only Agg backend, or None when no --out was given."""
    if out is None:
        return None
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--out needs matplotlib: pip install 'cmlp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    return plt


def bits(a):
    return "[" + " ".join(str(int(v)) for v in a) + "]"


# --------------------------------------------------------------------------- Shaw's 2-4-1


def shaw_network(y, seed, steps):
    """The notes' ``neural_network(X, y)``: 2-4-1 sigmoid, U[0, 1) weights, full-batch GD.

    The notes update ``W += 0.1 * X.T @ delta``: the TSE gradient *summed* over the four
    rows. cmlp's full-batch step is lr times the *mean* over the rows, so lr = 4 * 0.1 is
    the same step. One difference is left: cmlp's layers have biases (starting at zero,
    trained like the weights); the notes' network has none.
    """
    net = cmlp.Network([2, 4, 1], activation="sigmoid", loss="tse", seed=seed)
    rng = np.random.default_rng(seed)
    net.weights = [rng.random((2, 4)), rng.random((4, 1))]  # np.random.rand(2, 4), (4, 1)
    net.fit(X, y, epochs=steps, lr=4 * 0.1, batch_size="full", shuffle=False, verbose=0)
    return np.round(net.forward(X)[:, 0]).astype(int)  # the notes' np.round(output)


# --------------------------------------------------------------------------- Hjorth-Jensen


def hj_network(layers, y, seed):
    """Sigmoid units, binary cross-entropy, Adam with eta = 0.1, 1,000 full-batch epochs."""
    net = cmlp.Network(layers, activation="sigmoid", loss="cross_entropy", init="xavier",
                       seed=seed)
    net.fit(X, y, epochs=1000, lr=0.1, batch_size="full", optimizer="adam", verbose=0)
    return net.predict(X)


# --------------------------------------------------------------------------- the slides


def sklearn_start(net, rng, activation):
    """Draw the initial weights and biases the way MLPClassifier does (Glorot uniform:
    bound sqrt(6 / (fan_in + fan_out)), with 2 instead of 6 for logistic units; the biases
    from the same interval)."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    for W, b in zip(net.weights, net.biases):
        bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
        W[...] = rng.uniform(-bound, bound, W.shape)
        b[...] = rng.uniform(-bound, bound, b.shape)


def sklearn_stopping_rule(tol=1e-4, n_iter_no_change=10):
    """A fit callback that stops as MLPClassifier does: after n_iter_no_change epochs in a
    row whose training loss is not below the best loss so far minus tol."""
    state = {"best": np.inf, "bad": 0}

    def callback(epoch, history):
        loss = history.cost[-1]
        state["bad"] = state["bad"] + 1 if loss > state["best"] - tol else 0
        state["best"] = min(state["best"], loss)
        return state["bad"] < n_iter_no_change  # False stops training

    return callback


def xor_run(activation, seed, max_epochs, stopping_rule):
    y = np.array(GATES["XOR"])
    net = cmlp.Network([2, 2, 1], activation=activation, output="sigmoid",
                       loss="cross_entropy", seed=seed)
    sklearn_start(net, np.random.default_rng(seed), activation)
    # scikit-learn adds alpha/2 * sum(w^2) / batch_size to the mean loss; cmlp adds
    # l2 * sum(w^2): l2 = alpha / (2 * 4) for alpha = 1e-4 and the whole batch of 4 rows
    history = net.fit(X, y, epochs=max_epochs, lr=1e-3, batch_size="full", optimizer="adam",
                      l2=1e-4 / 8, verbose=0,
                      callbacks=[sklearn_stopping_rule()] if stopping_rule else None)
    return dict(solved=bool((net.predict(X) == y).all()), epochs=len(history),
                cost=history.cost, predictions=net.predict(X))


def slides_sklearn():
    """The slides' own code, when scikit-learn is installed; else None."""
    try:
        from sklearn.neural_network import MLPClassifier
        from sklearn.exceptions import ConvergenceWarning
    except ImportError:
        return None
    out = {}
    for activation in ("logistic", "relu"):
        model = MLPClassifier(activation=activation, max_iter=10000, hidden_layer_sizes=(2,),
                              random_state=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, GATES["XOR"])
        out[activation] = dict(score=model.score(X, GATES["XOR"]), n_iter=model.n_iter_,
                               predictions=model.predict(X))
    return out


def main(argv=None):
    args = parse_args(argv)
    n_seeds = args.seeds or (2 if args.quick else 10)
    max_epochs = 2000 if args.quick else 10000
    t_start = time.perf_counter()
    results = {}

    print("1. Shaw's 2-4-1 sigmoid network (TSE, learning rate 0.1 on the summed gradient)")
    for steps in (1000, 10000):
        gates = ["XOR"] if args.quick and steps > 1000 else list(GATES)
        table = {g: shaw_network(np.array(GATES[g]), args.seed, steps) for g in gates}
        results[f"shaw_{steps}"] = table
        print(f"   {steps} steps:")
        for g, pred in table.items():
            mark = "ok" if (pred == GATES[g]).all() else "wrong"
            print(f"   {g:>5} {bits(pred)}  (truth {bits(GATES[g])}, {mark})")
    print("   the notes, after 1000 steps: OR [0 1 1 1] (2024) / [1 1 1 1] (2025), "
          "AND [0 0 0 1], XOR [0 1 1 1], NAND [1 1 1 0], NOR [1 0 0 0]")

    print()
    print("2. Hjorth-Jensen: a single sigmoid neuron, and the 2-2-1 network "
          "(cross-entropy, Adam eta = 0.1, 1000 epochs)")
    for name, layers in (("neuron", [2, 1]), ("hidden", [2, 2, 1])):
        table = {g: hj_network(layers, np.array(y), args.seed) for g, y in GATES.items()}
        results[f"hj_{name}"] = table
        solved = [g for g, p in table.items() if (p == GATES[g]).all()]
        print(f"   {'-'.join(map(str, layers)):>5}: " +
              "  ".join(f"{g} {bits(p)}" for g, p in table.items()))
        print(f"          solved: {', '.join(solved) or 'none'}")

    print()
    print(f"3. The slides' XOR: 2-2-1, logistic vs ReLU hidden units, Adam lr 1e-3, "
          f"alpha 1e-4, at most {max_epochs} epochs, seeds 0..{n_seeds - 1}")
    comparison = {}
    for activation in ("sigmoid", "relu"):
        for rule in (True, False):
            runs = [xor_run(activation, s, max_epochs, rule) for s in range(n_seeds)]
            key = (activation, "stopping rule" if rule else "full budget")
            comparison[key] = runs
            solved = sum(r["solved"] for r in runs)
            epochs = [r["epochs"] for r in runs]
            print(f"   {activation:>7}, {key[1]:<13}: XOR solved in {solved:>2} of {n_seeds} "
                  f"seeds; epochs run: median {int(np.median(epochs))}, "
                  f"min {min(epochs)}, max {max(epochs)}")
    results["xor_comparison"] = comparison
    sk = None if args.quick else slides_sklearn()
    results["sklearn_slides"] = sk
    if args.quick:
        print("   (--quick: the slides' own scikit-learn code is skipped)")
    elif sk is None:
        print("   (scikit-learn is not installed: the slides' own code is skipped)")
    else:
        for activation, r in sk.items():
            print(f"   scikit-learn, the slides' code, {activation:>8}: score {r['score']:.2f}, "
                  f"predictions {bits(r['predictions'])}, stopped after {r['n_iter']} "
                  f"iterations")

    plt = pyplot_for(args.out)
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for ax, activation in zip(axes, ("sigmoid", "relu")):
            for r in comparison[(activation, "full budget")]:
                ax.plot(np.arange(1, r["epochs"] + 1), r["cost"],
                        color="tab:green" if r["solved"] else "tab:red", lw=1)
            for r in comparison[(activation, "stopping rule")]:
                ax.axvline(r["epochs"], color="grey", lw=0.5, ls=":")
            ax.set_xscale("log")
            ax.set_xlabel("epoch")
            ax.set_title(f"XOR, 2-2-1 {activation} (green: solved; dotted: where "
                         f"scikit-learn's rule stops)", fontsize="small")
        axes[0].set_ylabel("cross-entropy + L2")
        fig.tight_layout()
        path = args.out / "xor_cost.png"
        fig.savefig(path)
        plt.close(fig)
        print(f"wrote {path}")
        results["plots"] = [path]

    results["seconds"] = time.perf_counter() - t_start
    print(f"total time: {results['seconds']:.1f} s")
    return results


if __name__ == "__main__":
    main()

"""scikit-learn is optional: ``import cmlp`` works without it, and the estimators say how to
get it. Runs whether or not scikit-learn is installed (its absence is simulated)."""
import subprocess
import sys
import textwrap


def test_import_cmlp_without_sklearn():
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # any import of sklearn now raises ImportError
        import cmlp
        net = cmlp.Network([2, 1], seed=0)
        assert "MLPClassifier" in dir(cmlp)
        for name in ("MLPClassifier", "MLPRegressor"):
            try:
                getattr(cmlp, name)
            except ImportError as exc:
                assert "pip install cmlp[sklearn]" in str(exc), exc
            else:
                raise AssertionError(f"cmlp.{name} imported without scikit-learn")
        try:
            cmlp.no_such_name
        except AttributeError:
            pass
        else:
            raise AssertionError("cmlp.no_such_name did not raise AttributeError")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"

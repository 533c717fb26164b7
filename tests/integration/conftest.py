import pytest

from vigil import Backend, Vigild


@pytest.fixture
def vigild_factory(tmp_path):
    """vigild_factory(config, name=..., start=True) -> Vigild; all stopped at teardown,
    each must exit 0 and show no sanitizer report."""
    made = []

    def make(config, name=None, start=True, env=None):
        v = Vigild(tmp_path, config, name=name or f"vigild{len(made)}", env=env)
        made.append(v)
        if start:
            v.start()
        return v

    yield make
    problems = []
    for v in made:
        was_running = v.alive()
        rc = v.stop()
        if was_running and rc != 0:
            problems.append(f"{v.dir.name} exited {rc}")
        reports = v.sanitizer_reports()
        if reports:
            problems.append(f"{v.dir.name}: " + "; ".join(reports[:5]))
    if problems:
        pytest.fail("vigild teardown: " + " | ".join(problems) + "\n" + made[0].log()[-4000:])


@pytest.fixture
def backends():
    """backends(n, prefix='be', behaviour=...) -> list of Backend; closed at teardown."""
    made = []

    def make(n, prefix="be", **kw):
        out = [Backend(f"{prefix}{i + 1}", **kw) for i in range(n)]
        made.extend(out)
        return out

    yield make
    for b in made:
        b.close()


@pytest.fixture
def make_pair(tmp_path):
    """make_pair(**kw) -> failover_bed.Pair (two vigild nodes in network
    namespaces); every pair is closed at teardown and must leave no problem."""
    from failover_bed import Pair

    made = []

    def make(**kw):
        p = Pair(tmp_path, **kw)
        made.append(p)
        return p

    yield make
    problems = []
    for p in made:
        problems += p.close()
    assert not problems, problems

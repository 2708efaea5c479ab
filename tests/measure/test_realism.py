"""The realism report: discriminators that can tell, a profile that counts what a reader sees, end to end."""

from __future__ import annotations

import random

import pytest

from poetry_lm.measure.realism import (
    lexical_discriminator,
    neural_discriminator,
    ngram_use,
    realism_report,
    repeats,
)
from poetry_lm.text.corpus import write_corpus
from tests.conftest import run_cli_in_process, tiny_poems

SPRING, AUTUMN = "春花柳燕莺桃杏东风暖日晴", "秋霜菊雁蝉枫叶西风寒月冷"


def toy_poems(chars: str, count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [["".join(rng.choice(chars) for _ in range(5)) for _ in range(4)] for _ in range(count)]


def test_repeats_tell_diezi_accidents_scattered_and_repeated_rhyme():
    poem = ["悠悠白云去", "君君不见山", "白日依山尽", "云深不见山"]
    counts = repeats(poem, reduplicable={"悠"})
    assert counts["doubled"] == 2 and counts["accidental_doubles"] == 1  # 悠悠 is a 叠字, 君君 an accident
    assert counts["repeated_rhyme"] == 1  # 山 ends lines 2 and 4
    assert counts["repeats"] == counts["doubled"] + counts["scattered"] == 2 + 6  # 白 云 不 见, 山 twice: scattered


def test_the_lexical_discriminator_tells_apart_what_differs_and_not_what_does_not():
    apart = lexical_discriminator(toy_poems(SPRING, 60, 1), toy_poems(AUTUMN, 60, 2))
    assert apart["accuracy"] > 0.95 and apart["auc"] > 0.95
    assert all(set(gram) <= set(AUTUMN) for gram in apart["giveaways"])
    alike = lexical_discriminator(toy_poems(SPRING, 60, 3), toy_poems(SPRING, 60, 4))
    assert alike["accuracy"] < 0.7


def test_the_neural_discriminator_is_scored_on_poems_it_never_saw():
    result = neural_discriminator(toy_poems(SPRING, 80, 1), toy_poems(AUTUMN, 80, 2),
                                  toy_poems(SPRING, 40, 3), toy_poems(AUTUMN, 40, 4), epochs=6)
    assert result["accuracy"] > 0.9 and result["auc"] > 0.9


def test_ngram_use_names_over_and_under_used_ngrams():
    generated = [["春风春风春", "花开花开花"]] * 10
    real = [["秋月秋月秋", "花落花落花"]] * 10
    use = ngram_use(generated, real, top=3, min_count=5)
    assert {"春", "春风"} & {g for g, _ in use["over_used"]}
    assert {"秋", "秋月"} & {g for g, _ in use["under_used"]}


@pytest.fixture(scope="module")
def realism_corpus(tmp_path_factory):
    """A corpus whose held-out splits hold a few poems of every form (the tiny corpus's do not)."""
    out = tmp_path_factory.mktemp("realism_corpus")
    write_corpus(tiny_poems(3000), out)
    return out


@pytest.mark.slow
def test_realism_report_end_to_end(tiny_model_dir, realism_corpus, tmp_path, capsys):
    result = realism_report(tiny_model_dir, realism_corpus, count=12, split="valid", settings_names=["default", "previous"],
                            dynasty=None)
    assert result["poems"] == result["real"]["poems"] == 12
    for name in ("default", "previous"):
        row = result["settings"][name]
        assert 0 <= row["lexical"]["accuracy"] <= 1 and 0 <= row["neural"]["accuracy"] <= 1
        assert row["profile"]["poems"] == 12 and row["profile"]["distinct_chars"] > 0
    # The bans hold by construction in the default; the plain decoder of "previous" may break them.
    assert result["settings"]["default"]["profile"]["poems_with_accidental_double"] == 0
    assert result["settings"]["default"]["profile"]["poems_with_repeated_rhyme"] == 0


def test_realism_cli_checks_its_arguments_first(tiny_model_dir, capsys):
    code, err = run_cli_in_process(["evaluate", "--realism", "10", "--model", str(tiny_model_dir)], capsys)
    assert code == 2 and err == ["error: --realism 至少 20 首（交叉验证要每类 5 首以上），收到 10"]
    code, err = run_cli_in_process(["evaluate", "--realism", "40", "--json", "/nonexistent/dir/r.json"], capsys)
    assert code == 2 and err == ["error: --json 的目录不存在：/nonexistent/dir"]


def test_unknown_realism_settings_are_named(tiny_model_dir, realism_corpus):
    from poetry_lm.errors import PoetryError

    with pytest.raises(PoetryError, match="未知设置：fancy"):
        realism_report(tiny_model_dir, realism_corpus, 12, split="valid", settings_names=["fancy"], dynasty=None)

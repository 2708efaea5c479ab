"""对联: answer a 上联, or write a whole couplet hiding two characters, with an optional 横批.

Two models write together. The poem model reads 上联，下联。 as two lines of a 律诗 (p(下联 | 上联) as it learned
from the 颔联 and 颈联 of real poems); the aligned model (a bidirectional LSTM over the 上联) gives each 下联
position's character from the 上联 character it answers. The decoder samples from their product,
log p_poem + weight × log p_aligned, renormalised (`decode.ExpertDecoder`); the weight was chosen on
held-out valid couplets (`calibrate_weight`) and is saved beside the aligned model.

The rules are masks, so they hold by construction: the same length, the 上联 ending 仄 and the 下联 平, the
even positions' 平仄 opposed (a penalty by default, a mask with `strict_tones`), no 上联 character in the
下联, and a 上联 repeat (叠字) answered by a repeat at the same positions.
"""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from poetry_lm.compose.decode import FREE, ExpertDecoder, WordBias, form_template, free_cell_bias, word_bias
from poetry_lm.compose.generate import char_tables
from poetry_lm.compose.occasion import INAUSPICIOUS_CHARS, INAUSPICIOUS_WORDS, occasion_named
from poetry_lm.compose.settings import MAX_SEED, Sampling
from poetry_lm.compose.steer import occasion_bias
from poetry_lm.errors import PoetryError
from poetry_lm.files import read_json_file, write_atomic
from poetry_lm.model.keras_compat import patch_time_distributed
from poetry_lm.model.network import ModelDir, load_model_dir
from poetry_lm.paths import DEFAULT_COUPLET_MODEL_DIR, DEFAULT_MODEL_DIR, REPO_ROOT
from poetry_lm.prosody.couplet import (
    FIRST_END,
    CoupletReport,
    check_couplet,
    couplet_form,
    dictionary_tags,
    repeat_sources,
)
from poetry_lm.prosody.form import EITHER
from poetry_lm.prosody.tones import tone_fits
from poetry_lm.text.char_stats import reduplicable_mask
from poetry_lm.text.corpus import is_han
from poetry_lm.text.corpus_stats import WORD_COUNTS_FILE
from poetry_lm.text.couplets import COUPLET_LENGTHS, check_first_line

WEIGHT_FILE = "expert_weight.json"  # beside the aligned model: the product's weight, chosen on valid
DEFAULT_WEIGHT = 1.0  # when the aligned model has no chosen weight yet
POSITIONS = {"head": "藏头", "tail": "藏尾"}
BANNER_LENGTH = 4
BANNER_WORD_CLASSES = "nsami"  # jieba: nouns (and places, names), places, descriptions, numbers, idioms (times
# like 今日 and 当年 open lines well and make weak 横批)
# Negations and question words, counted numbers (三年 五十: 万里 and 千古 stay), and the inauspicious.
BANNER_EXCLUDED_CHARS = "不无何莫未非谁几" + "一二三四五六七八九十两" + INAUSPICIOUS_CHARS
BANNER_EXCLUDED_WORDS = (*INAUSPICIOUS_WORDS, "惆怅", "白头", "落日", "夕阳", "斜阳", "落花", "黄昏", "尘埃")


@dataclass(frozen=True)
class CoupletSettings:
    """What to write: an answer to `first`, or (no `first`) a whole couplet hiding `hidden` at `position`."""

    first: str = ""
    hidden: str = ""
    position: str = "head"
    length: int = 7  # of a whole couplet; an answer is as long as its 上联
    num_candidates: int = 8
    temperature: float = 0.8
    search: int = 4  # samples per candidate; the best-scoring one is kept
    strict_tones: bool = False  # even-position opposition as a mask rather than a penalty
    # Logit penalty for a same tone at an even position (soft), in sampling and in the ranking. Chosen on 200 valid
    # couplets: 4 → 97.0% of answers opposed at every even position, 6 → 99.5%, 8 → 100%; log-probability per
    # character −2.152, −2.169, −2.170.
    tone_penalty: float = 6.0
    # Added to a candidate's rank (nats per character) per unit of 对仗 share (see `write`). Chosen on 200 valid
    # couplets: 0 → 对仗 0.485 of the best answers (real 下联 0.493), 0.5 → 0.543, 1 → 0.575, 2 → 0.644; their
    # log-probability per character −2.169, −2.177, −2.199, −2.302.
    parallel_bonus: float = 1.0
    banner: bool = False  # add a 横批
    occasion: str | None = None  # 春节, 婚庆, 祝福 …: its imagery lifted, and for a blessing the inauspicious banned
    seed: int | None = None

    def sampling(self, seed: int) -> Sampling:
        return Sampling(temperature=self.temperature, seed=seed, search=self.search)


def check_couplet_settings(settings: CoupletSettings) -> CoupletSettings:
    """The settings with the 上联 or hidden characters cleaned; PoetryError with a readable reason otherwise."""
    if settings.first and settings.hidden:
        raise PoetryError("请只给上联（对下联），或只给两个藏字（写整副对联），不要同时给")
    if not 1 <= settings.num_candidates <= 32:
        raise PoetryError(f"候选数应在 1 到 32 之间，收到 {settings.num_candidates}")
    if not 0.05 <= settings.temperature <= 3:
        raise PoetryError(f"温度应在 0.05 到 3 之间，收到 {settings.temperature}")
    if not 1 <= settings.search <= 16:
        raise PoetryError(f"search 应在 1 到 16 之间，收到 {settings.search}")
    occasion_named(settings.occasion)  # an unknown occasion says which there are
    if settings.position not in POSITIONS:
        raise PoetryError(f"藏字位置应为 {' / '.join(POSITIONS)}，收到 {settings.position!r}")
    if settings.first:
        return replace(settings, first=check_first_line(settings.first))
    hidden = "".join(settings.hidden.split())
    if not hidden:
        raise PoetryError("请输入上联（对下联），或两个藏字（写藏头对联）")
    if len(hidden) != 2 or not all(is_han(char) for char in hidden):
        raise PoetryError(f"藏字须是两个汉字（上联、下联各藏一个），收到「{hidden[:10]}」")
    if settings.length not in COUPLET_LENGTHS:
        raise PoetryError(f"对联每句 {settings.length} 字：本工具只写五言和七言（训练数据只有这两种长度）")
    if settings.position == "tail":
        check_tail_tones(hidden)
    return replace(settings, hidden=hidden)


def check_tail_tones(hidden: str) -> None:
    """藏尾 puts the two characters at the ends, where the 上联 must end 仄 and the 下联 平: say so before writing."""
    first, second = hidden
    if tone_fits(first, FIRST_END) and tone_fits(second, "平"):
        return
    swapped = tone_fits(second, FIRST_END) and tone_fits(first, "平")
    hint = f"；换个顺序（{second}{first}）就合律" if swapped else "；换一个字，或改用藏头"
    raise PoetryError(f"藏尾时上联须以仄声收尾、下联以平声收尾，「{first}」「{second}」不合{hint}")


@dataclass
class Couplet:
    """One couplet: its two lines, its 横批 (or ""), the 下联's log-probability under the product of experts
    per character, and its check."""

    first: str
    second: str
    log_prob: float
    report: CoupletReport
    banner: str = ""
    hidden: str = ""
    position: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "first": self.first, "second": self.second, "banner": self.banner,
            "log_prob_per_char": round(self.log_prob, 4), "hidden": self.hidden, "position": self.position,
            "end_tones_ok": self.report.end_tones_ok, "opposition_ok": self.report.opposition_ok,
            "parallel_share": round(self.report.parallel_share, 3), "notes": self.notes,
        }


class BiasRows:
    """Distinct bias rows [R, V] built once each, and the index of each: masks are few, cells many."""

    def __init__(self, vocab_size: int):
        self.rows: list[np.ndarray] = [np.zeros(vocab_size, np.float32)]  # row 0: anything (forced cells)
        self.index: dict[object, int] = {}

    def add(self, key, make, *args) -> int:
        """The index of the row `key`, made by `make(*args)` the first time it is asked for."""
        if key not in self.index:
            self.index[key] = len(self.rows)
            self.rows.append(make(*args))
        return self.index[key]

    def stacked(self) -> np.ndarray:
        return np.stack(self.rows)


class CoupletWriter:
    """Writes couplets with the poem model and the aligned couplet model."""

    def __init__(self, poem: ModelDir, aligned: ModelDir, weight: float | None = None):
        if aligned.info.model.kind != "couplet":
            raise PoetryError(f"{aligned.path} 不是对联模型（应由 train --kind couplet 训练）")
        if poem.info.model.kind != "poem":
            raise PoetryError(f"{poem.path} 不是写诗的语言模型")
        self.poem, self.aligned, self.vocab = poem, aligned, poem.vocab
        self.weight = chosen_weight(aligned.path) if weight is None else weight
        self.decoder = ExpertDecoder(poem.model, self.vocab, char_tables(self.vocab))
        self.free_bias = free_cell_bias(self.vocab)
        self.reduplicable = reduplicable_mask(self.vocab)
        tones = {tone: np.asarray([tone_fits(token, tone) for token in self.vocab.tokens]) for tone in ("平", "仄")}
        self.fits = tones
        # The aligned model's columns in the poem model's vocabulary (a character it lacks reads its <unk>).
        self.aligned_columns = np.asarray([aligned.vocab.id_of(token) for token in self.vocab.tokens])
        # Compiled once for any batch and length: called eagerly the bidirectional LSTMs took 270 ms a request
        # (a dynamic time axis in a graph needs the TimeDistributed fix).
        patch_time_distributed()
        self._aligned_probs = tf.function(lambda ids: aligned.model(ids, training=False),
                                          input_signature=[tf.TensorSpec([None, None], tf.int32)])

    @classmethod
    def load(cls, poem_path: Path | None = None, aligned_path: Path | None = None, warm_up: bool = True) -> CoupletWriter:
        """The bundled poem and couplet models by default; compiles the decoder once (`warm_up`)."""
        aligned_path = Path(aligned_path) if aligned_path else DEFAULT_COUPLET_MODEL_DIR
        if not aligned_path.exists():
            raise PoetryError(f"找不到对联模型：{aligned_path}（用 train --kind couplet 训练一个）")
        writer = cls(load_model_dir(Path(poem_path) if poem_path else DEFAULT_MODEL_DIR), load_model_dir(aligned_path))
        if warm_up:
            writer.write(CoupletSettings(first="明月松间照", num_candidates=1, search=1, seed=0))
        return writer

    # The aligned expert ------------------------------------------------------------------------------------

    def aligned_log_probs(self, firsts: list[str]) -> np.ndarray:
        """[E, n, V] log p_aligned(下联 character | 上联) per position, in the poem model's vocabulary."""
        ids = np.asarray([self.aligned.vocab.encode(first) for first in firsts], np.int32)
        probs = self._aligned_probs(tf.constant(ids)).numpy().astype(np.float64)
        return np.log(np.maximum(probs[..., self.aligned_columns], 1e-30)).astype(np.float32)

    def _expert(self, firsts: list[str]) -> np.ndarray:
        """[E, T + 1, V]: zero on the 上联 cells, the comma, the 。 and the end; the aligned log-probabilities,
        floored, on the 下联 cells."""
        n = len(firsts[0])
        expert = np.zeros((len(firsts), 2 * n + 3, len(self.vocab)), np.float32)
        expert[:, n + 1 : 2 * n + 1] = np.maximum(self.aligned_log_probs(firsts), -30.0)
        return expert

    # Masks ---------------------------------------------------------------------------------------------------

    def _only(self, char: str) -> np.ndarray:
        row = np.full(len(self.vocab), -np.inf, np.float32)
        row[self.vocab.id_of(char)] = 0.0
        return row

    def _answer_row(self, first: str, wanted: str | None, strict: bool, given: str | None, doubled: bool,
                    settings: CoupletSettings, steer: np.ndarray) -> np.ndarray:
        """A 下联 cell's bias: a free character not in the 上联, of the wanted tone (a mask when `strict`, else a
        penalty), doubled where the 上联 doubles, steered by the occasion (`steer`)."""
        if given is not None:
            return self._only(given)
        row = self.free_bias + steer
        row[[self.vocab.id_of(char) for char in set(first) if char in self.vocab]] = -np.inf
        if wanted is not None:
            row[~self.fits[wanted]] = -np.inf if strict else row[~self.fits[wanted]] - settings.tone_penalty
        if doubled:
            row[~self.reduplicable] = -np.inf
        return row

    def answer_plan(self, firsts: list[str], givens: list[dict[int, str]], settings: CoupletSettings):
        """(forced_ids [T], bias_rows, bias_index [E, T], distinct [T], copy_from [E, T]) answering each 上联."""
        n = len(firsts[0])
        forms = [couplet_form(first) for first in firsts]  # one layout; each row reads its own 上联 (its bias rows)
        forced = form_template(forms[0], {}, self.vocab)
        rows = BiasRows(len(self.vocab))
        index = np.zeros((len(firsts), len(forced)), np.int32)
        copy_from = np.full(index.shape, -1, np.int32)
        steer = self.occasion_steering(settings.occasion)[0]
        for e, (first, given, form) in enumerate(zip(firsts, givens, forms, strict=True)):
            wanted = [None if tone == EITHER else tone for tone in form.clauses[1].tones]
            sources = repeat_sources(first)
            # The end tone is a rule, never a preference; the others are, unless strict.
            strict = [settings.strict_tones or j == n - 1 for j in range(n)]
            for j, source in enumerate(sources):  # a repeat's tone is its first occurrence's to keep
                if source >= 0 and wanted[j] is not None:
                    wanted[source], strict[source] = wanted[j], strict[source] or strict[j]
            for i, char in enumerate(first):  # each row reads its own 上联
                index[e, i] = rows.add(("only", char), self._only, char)
            for j in range(n):
                if sources[j] >= 0:  # a 上联 repeat: the 下联 repeats its own character there
                    copy_from[e, form.cell(1, j)] = form.cell(1, sources[j])
                    continue
                doubled = j + 1 < n and sources[j + 1] == j
                key = ("answer", first, wanted[j], strict[j], given.get(j), doubled)
                index[e, form.cell(1, j)] = rows.add(
                    key, self._answer_row, first, wanted[j], strict[j], given.get(j), doubled, settings, steer)
        distinct = np.zeros(len(forced), bool)
        distinct[n + 1 : 2 * n + 1] = True  # no character twice in the 下联, save the copies
        return forced, rows.stacked(), index, distinct, copy_from

    # Writing -------------------------------------------------------------------------------------------------

    def answers(self, firsts: list[str], givens: list[dict[int, str]], settings: CoupletSettings, seed: int,
                per_first: int) -> list[list[tuple[str, float, float]]]:
        """`per_first` 下联 for each 上联 (duplicates removed), best first: (下联, its log-probability per character,
        the same less the soft tone penalties it paid per character: what "best" means)."""
        forced, bias_rows, index, distinct, copy_from = self.answer_plan(firsts, givens, settings)
        rows_per_first = per_first * settings.search
        bias_index = np.repeat(index, rows_per_first, axis=0)
        decoded = self.decoder.with_expert(
            forced, bias_rows, bias_index, settings.sampling(seed), self._expert(firsts),
            np.repeat(np.arange(len(firsts), dtype=np.int32), rows_per_first), self.weight, distinct,
            np.repeat(copy_from, rows_per_first, axis=0), self.occasion_steering(settings.occasion)[1],
            distinct,  # the occasion's words act in the 下联's cells
        )
        n = len(firsts[0])
        answer_cells = slice(n + 1, 2 * n + 1)
        per_char = decoded.cell_log_probs[:, answer_cells].mean(axis=1)
        # The soft tone penalties each row paid (a row's bias at the character it wrote): sampling felt them, and
        # the choice among samples and candidates must too, or it picks the likelier sample that broke a tone.
        paid = np.take_along_axis(bias_rows[bias_index[:, answer_cells]], decoded.tokens[:, answer_cells, None], 2)
        rank = per_char + paid[..., 0].sum(axis=1) / n
        result = []
        for e in range(len(firsts)):
            seen: dict[str, tuple[float, float]] = {}
            rows = range(e * rows_per_first, (e + 1) * rows_per_first)
            for row in sorted(rows, key=lambda r: -rank[r]):
                text = self.vocab.decode(decoded.tokens[row, answer_cells])
                if len(text) == n:  # always so; a token without a character would show here
                    seen.setdefault(text, (float(rank[row]), float(per_char[row])))
            best = sorted(seen.items(), key=lambda item: -item[1][0])[:per_first]
            result.append([(text, log_prob, rank) for text, (rank, log_prob) in best])
        return result

    def _poem_model_alone(self, forced: np.ndarray, bias_rows: np.ndarray, bias_index: np.ndarray, sampling: Sampling,
                          **options):
        """The same compiled loop with no expert (weight 0): the 上联 and the 横批 are the poem model's alone."""
        no_expert = np.zeros((1, len(forced) + 1, len(self.vocab)), np.float32)
        return self.decoder.with_expert(forced, bias_rows, bias_index, sampling, no_expert,
                                        np.zeros(len(bias_index), np.int32), 0.0, **options)

    def first_lines(self, settings: CoupletSettings, seed: int) -> list[str]:
        """Distinct 上联 that hide the first character, written by the poem model alone, ending 仄."""
        n, (head, _) = settings.length, settings.hidden
        comma, _ = self.vocab.punctuation_ids
        given = {0: head} if settings.position == "head" else {n - 1: head}
        forced = np.asarray([self.vocab.id_of(given[j]) if j in given else FREE for j in range(n)] + [comma], np.int32)
        steer, words = self.occasion_steering(settings.occasion)
        free = self.free_bias + steer
        free[[self.vocab.id_of(char) for char in settings.hidden if char in self.vocab]] = -np.inf  # the 下联's own
        end = free.copy()
        end[~self.fits[FIRST_END]] = -np.inf
        bias_rows = np.stack([free, end])
        cells = np.zeros((1, len(forced)), np.int32)  # row 0 everywhere, the 仄 ending at the last character
        cells[0, n - 1] = 1
        rows = 2 * settings.num_candidates * settings.search  # twice as many: some come out the same
        decoded = self._poem_model_alone(forced, bias_rows, np.repeat(cells, rows, axis=0), settings.sampling(seed),
                                         words=words, word_cells=forced == FREE)
        order = np.argsort(-decoded.score)
        lines = dict.fromkeys(self.vocab.decode(decoded.tokens[row, :n]) for row in order)
        return [line for line in lines if len(line) == n][: settings.num_candidates]

    def banners(self, couplets: list[tuple[str, str]], seed: int, samples: int = 16) -> list[str]:
        """A 4-character 横批 for each couplet: the poem model reads the couplet as two lines of a poem and writes
        two words (`banner_words`: the corpus's frequent two-character nouns, places, times and descriptions,
        none inauspicious) as the opening of a next line, no character twice; the best of `samples` by the
        model's log-probability."""
        prefix_length = 2 * len(couplets[0][0]) + 2
        forced = np.asarray([FREE] * (prefix_length + BANNER_LENGTH), np.int32)
        rows = BiasRows(len(self.vocab))
        index = np.zeros((len(couplets), len(forced)), np.int32)
        words, starts = self.banner_words
        for e, (first, second) in enumerate(couplets):
            for t, char in enumerate(f"{first}，{second}。"):
                index[e, t] = rows.add(("only", char), self._only, char)
            index[e, prefix_length:] = [rows.add("word start", starts.copy), rows.add("free", self.free_bias.copy)] * 2
        distinct, word_cells = np.zeros(len(forced), bool), np.zeros(len(forced), bool)
        distinct[prefix_length:] = True
        word_cells[[prefix_length + 1, prefix_length + 3]] = True  # the second character of each word
        decoded = self._poem_model_alone(forced, rows.stacked(), np.repeat(index, samples, axis=0),
                                         Sampling(temperature=0.8, seed=seed), distinct_cells=distinct, words=words,
                                         word_cells=word_cells)
        fit = decoded.cell_log_probs[:, prefix_length:].sum(axis=1)
        allowed = set(banner_word_list())
        banners = []
        for e in range(len(couplets)):
            rows = sorted(range(e * samples, (e + 1) * samples), key=lambda row: -fit[row])
            texts = [self.vocab.decode(decoded.tokens[row, prefix_length:]) for row in rows]
            # Two banner words by construction, unless every completion of a word was already used (a sampler
            # keeps a fully banned row rather than fail): such a sample is passed over.
            banners.append(next((text for text in texts if text[:2] in allowed and text[2:] in allowed), ""))
        return banners

    @functools.lru_cache(maxsize=8)  # noqa: B019 (one writer per process; a few occasions)
    def occasion_steering(self, occasion: str | None) -> tuple[np.ndarray, WordBias]:
        """An occasion's [V] bias for free cells and its word bias (`steer.occasion_bias`); none for None."""
        bias, pairs = occasion_bias(occasion, self.vocab)
        return bias, word_bias(pairs, len(self.vocab))

    @functools.cached_property
    def banner_words(self) -> tuple[WordBias, np.ndarray]:
        """(the word rows that let a 横批's second and fourth characters complete only a banner word begun by the
        character before, the bias row that lets its first and third characters only begin one)."""
        words = [word for word in banner_word_list() if all(char in self.vocab for char in word)]
        firsts = sorted({self.vocab.id_of(word[0]) for word in words})
        slot = np.zeros(len(self.vocab), np.int32)
        rows = np.full((len(firsts) + 1, len(self.vocab)), -np.inf, np.float32)
        rows[0] = 0.0  # a character that begins no word (never drawn in a word's first cell)
        for k, first in enumerate(firsts, 1):
            slot[first] = k
        for word in words:
            rows[slot[self.vocab.id_of(word[0])], self.vocab.id_of(word[1])] = 0.0
        starts = np.full(len(self.vocab), -np.inf, np.float32)
        starts[firsts] = self.free_bias[firsts]
        return WordBias(rows, slot, np.zeros(len(self.vocab), np.float32)), starts

    def write(self, settings: CoupletSettings) -> list[Couplet]:
        """Candidates for `settings`, best first."""
        settings = check_couplet_settings(settings)
        seed = settings.seed if settings.seed is not None else secrets.randbelow(MAX_SEED)
        notes = self._notes(settings)
        if settings.first:
            firsts = [settings.first]
            answers = self.answers(firsts, [{}], settings, seed, settings.num_candidates)
        else:
            firsts = self.first_lines(settings, seed)
            n, second_char = settings.length, settings.hidden[1]
            given = {0: second_char} if settings.position == "head" else {n - 1: second_char}
            answers = self.answers(firsts, [given] * len(firsts), settings, seed + 1, 1)
        scored = []
        for first, options in zip(firsts, answers, strict=True):
            for second, log_prob, rank in options:
                report = check_couplet(first, second)
                # 对仗 is judged on whole words (jieba), which the decoder cannot see cell by cell: the ranking adds it.
                scored.append((rank + settings.parallel_bonus * report.parallel_share, Couplet(
                    first, second, log_prob, report, hidden=settings.hidden,
                    position=settings.position if settings.hidden else "", notes=notes)))
        couplets = [couplet for _, couplet in sorted(scored, key=lambda item: -item[0])]
        if settings.banner and couplets:
            for couplet, banner in zip(couplets, self.banners([(c.first, c.second) for c in couplets], seed + 2),
                                       strict=True):
                couplet.banner = banner
        return couplets

    def _notes(self, settings: CoupletSettings) -> list[str]:
        notes = []
        first = settings.first
        if first and not tone_fits(first[-1], FIRST_END):
            notes.append(f"上联末字「{first[-1]}」是平声；按惯例上联收仄、下联收平，这里下联收仄与它相对"
                         "（若这其实是下联，可把另一句当作上联）")
        unknown = sorted({char for char in first + settings.hidden if char not in self.vocab})
        if unknown:
            notes.append(f"模型没见过「{''.join(unknown)}」，对这些字只能凭上下文")
        return notes


@functools.cache
def banner_word_list(corpus_dir: Path = REPO_ROOT / "corpus") -> tuple[str, ...]:
    """Two-character words a 横批 is made of: the corpus's most frequent words (`word_counts.json`) that jieba's
    dictionary lists as nouns, places, numbers or descriptions, without negations, question words or
    anything inauspicious or dusk-sad (不知, 何处 and 白发 make no 横批; 欲识, which jieba only guesses at, neither)."""
    try:
        top = read_json_file(Path(corpus_dir) / WORD_COUNTS_FILE, WORD_COUNTS_FILE)["top"]
    except (PoetryError, KeyError, TypeError) as err:
        raise PoetryError(f"横批需要语料的词频表 {Path(corpus_dir) / WORD_COUNTS_FILE}（corpus build-word-counts）：{err}") from None
    tags = dictionary_tags()
    return tuple(
        word for word, _ in top
        if len(word) == 2 and word[0] != word[1] and tags.get(word, "x")[0] in BANNER_WORD_CLASSES
        and not set(word) & set(BANNER_EXCLUDED_CHARS) and word not in BANNER_EXCLUDED_WORDS
    )


def chosen_weight(aligned_path: Path) -> float:
    """The product's weight saved beside the aligned model (`calibrate_weight`), or DEFAULT_WEIGHT."""
    path = Path(aligned_path) / WEIGHT_FILE
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["weight"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_WEIGHT


def save_weight(aligned_path: Path, record: dict) -> Path:
    """Write the chosen weight (and how it was chosen) beside the aligned model, atomically."""
    path = Path(aligned_path) / WEIGHT_FILE
    write_atomic(path, json.dumps(record, ensure_ascii=False, indent=2))
    return path

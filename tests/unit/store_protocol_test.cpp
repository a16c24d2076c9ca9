// The TCPStore wire protocol from byte sequences of both generations (torch <= 2.0 and current).
#include "acc/store/protocol.hpp"
#include "acc/store/store_state.hpp"

#include <gtest/gtest.h>

using namespace acc::store;

namespace {

std::string hex(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string unhex(const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    }
    return out;
}

// Feed `wire` to a store as connection `conn`, in the given dialect; return the replies' bytes as hex.
std::string run(StoreState& state, ConnId conn, Dialect dialect, const std::string& wire) {
    std::string replies;
    std::string_view rest(wire);
    while (!rest.empty()) {
        Parsed p = parse_request(rest, dialect);
        EXPECT_EQ(p.status, ParseStatus::ok) << p.error;
        if (p.status != ParseStatus::ok) {
            break;
        }
        for (const auto& r : state.apply(conn, p.request)) {
            EXPECT_EQ(r.conn, conn);
            replies += r.bytes;
        }
        rest.remove_prefix(p.consumed);
    }
    return hex(replies);
}

}  // namespace

TEST(StoreProtocol, DialectIsToldApartByTheFirstBytes) {
    EXPECT_EQ(detect_dialect(unhex("00cef7853c")), Dialect::current);
    EXPECT_EQ(detect_dialect(unhex("00cef7")), Dialect::unknown);  // could still be VALIDATE
    EXPECT_EQ(detect_dialect(unhex("0003000000")), Dialect::legacy);  // a 1.13 SET
    EXPECT_EQ(detect_dialect(unhex("06")), Dialect::legacy);  // a 1.13 GETNUMKEYS
}

TEST(StoreProtocol, LegacyBytesObservedFromTorch113) {
    StoreState s;
    // SET /k1 = v1 (no reply)
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("000300000000000000" "2f6b31" "0200000000000000" "7631")), "");
    // WAIT [/k1] -> 00 (ready), then GET /k1 -> bytes "v1"
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("05" "0100000000000000" "0300000000000000" "2f6b31")), "00");
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("02" "0300000000000000" "2f6b31")), "0200000000000000" "7631");
    // ADD /cnt 5 -> 5
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("03" "0400000000000000" "2f636e74" "0500000000000000")),
              "0500000000000000");
    // GETNUMKEYS -> 2; DELETE_KEY /k1 -> 1
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("06")), "0200000000000000");
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("08" "0300000000000000" "2f6b31")), "0100000000000000");
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("06")), "0100000000000000");
    // CHECK [/cnt] -> 00 READY; WATCH_KEY -> 03
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("04" "0100000000000000" "0400000000000000" "2f636e74")), "00");
    EXPECT_EQ(run(s, 7, Dialect::legacy, unhex("07" "0100000000000000" "78")), "03");
}

TEST(StoreProtocol, CurrentHandshakeAndOpcodes) {
    StoreState s;
    // VALIDATE (no reply), PING with nonce 0x01020304 -> echoed
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("00cef7853c" "0d04030201")), "04030201");
    // SET is opcode 1 here, GET 3, ADD 4, GETNUMKEYS 7
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("01" "0100000000000000" "61" "0100000000000000" "62")), "");
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("03" "0100000000000000" "61")), "0100000000000000" "62");
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("04" "0100000000000000" "6e" "feffffffffffffff")),
              "feffffffffffffff");  // ADD -2 on a missing key
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("07")), "0200000000000000");
}

TEST(StoreProtocol, BadValidateMagicClosesTheConnection) {
    StoreState s;
    Parsed p = parse_request(unhex("00deadbeef"), Dialect::current);
    ASSERT_EQ(p.status, ParseStatus::ok);
    EXPECT_THROW(s.apply(1, p.request), StoreError);
}

TEST(StoreProtocol, CompareSetSemantics) {
    StoreState s;
    auto cas = [&](const std::string& k, const std::string& expected, const std::string& desired) {
        Request r;
        r.op = Op::compare_set;
        r.keys = {k};
        r.values = {expected, desired};
        auto out = s.apply(1, r);
        return out.at(0).bytes.substr(8);
    };
    EXPECT_EQ(cas("k", "x", "y"), "x");  // missing, expected non-empty: nothing stored, expected returned
    EXPECT_FALSE(s.has_key("k"));
    EXPECT_EQ(cas("k", "", "first"), "first");  // missing, expected empty: stored
    EXPECT_EQ(cas("k", "wrong", "z"), "first");
    EXPECT_EQ(cas("k", "first", "second"), "second");
}

TEST(StoreProtocol, WaitIsAnsweredWhenTheLastKeyArrivesAndCancelWaitClears) {
    StoreState s;
    Request wait;
    wait.op = Op::wait;
    wait.keys = {"a", "b"};
    EXPECT_TRUE(s.apply(1, wait).empty());
    Request set;
    set.op = Op::set;
    set.keys = {"a"};
    set.values = {"1"};
    EXPECT_TRUE(s.apply(2, set).empty());  // b still missing
    set.keys = {"b"};
    auto woken = s.apply(2, set);
    ASSERT_EQ(woken.size(), 1u);
    EXPECT_EQ(woken[0].conn, 1u);
    EXPECT_EQ(hex(woken[0].bytes), "00");

    wait.keys = {"never"};
    EXPECT_TRUE(s.apply(3, wait).empty());
    Request cancel;
    cancel.op = Op::cancel_wait;
    auto canceled = s.apply(3, cancel);
    ASSERT_EQ(canceled.size(), 1u);
    EXPECT_EQ(hex(canceled[0].bytes), "01");
    set.keys = {"never"};
    EXPECT_TRUE(s.apply(2, set).empty());  // nobody waits any more
}

TEST(StoreProtocol, MultiGetMultiSetAppendQueuesBarrierListKeys) {
    StoreState s;
    // MULTI_SET (opcode 11) of a=1, b=2 in the current dialect, then MULTI_GET (10)
    run(s, 1, Dialect::current,
        unhex("0b" "0200000000000000" "0100000000000000" "61" "0100000000000000" "31" "0100000000000000" "62"
              "0100000000000000" "32"));
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("0a" "0200000000000000" "0100000000000000" "61" "0100000000000000" "62")),
              "0100000000000000" "31" "0100000000000000" "32");
    // APPEND (9) "x" to a -> "1x"
    run(s, 1, Dialect::current, unhex("09" "0100000000000000" "61" "0100000000000000" "78"));
    EXPECT_EQ(*s.value("a"), "1x");
    // QUEUE_PUSH (14) q "v"; QUEUE_LEN (16) -> 1; QUEUE_POP (15) -> len 1 + "v"; QUEUE_POP -> 0
    run(s, 1, Dialect::current, unhex("0e" "0100000000000000" "71" "0100000000000000" "76"));
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("10" "0100000000000000" "71")), "0100000000000000");
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("0f" "0100000000000000" "71")),
              "0100000000000000" "0100000000000000" "76");
    EXPECT_EQ(run(s, 1, Dialect::current, unhex("0f" "0100000000000000" "71")), "0000000000000000");
    // LIST_KEYS (17): two keys
    std::string listed = run(s, 1, Dialect::current, unhex("11"));
    EXPECT_EQ(listed.substr(0, 16), "0200000000000000");
    // BARRIER (18) of world 2: first arrival waits, second releases both
    Request barrier;
    barrier.op = Op::barrier;
    barrier.keys = {"bar"};
    barrier.number = 2;
    EXPECT_TRUE(s.apply(5, barrier).empty());
    auto released = s.apply(6, barrier);
    ASSERT_EQ(released.size(), 2u);
}

TEST(StoreProtocol, FragmentedAndOversizedInput) {
    std::string set = unhex("000300000000000000" "2f6b31" "0200000000000000" "7631");
    for (size_t cut = 0; cut < set.size(); ++cut) {
        EXPECT_EQ(parse_request(set.substr(0, cut), Dialect::legacy).status, ParseStatus::incomplete) << cut;
    }
    EXPECT_EQ(parse_request(set, Dialect::legacy).consumed, set.size());
    Limits small;
    small.max_key = 2;
    Parsed p = parse_request(set, Dialect::legacy, small);
    EXPECT_EQ(p.status, ParseStatus::error);
    EXPECT_EQ(p.error, "key of 3 bytes exceeds the limit of 2");
    EXPECT_EQ(parse_request(unhex("ff"), Dialect::current).status, ParseStatus::error);
    EXPECT_EQ(parse_request(unhex("0d"), Dialect::legacy).status, ParseStatus::error);  // 13 is not legacy
}

TEST(StoreProtocol, AddOnTextIsRejected) {
    StoreState s;
    Request set;
    set.op = Op::set;
    set.keys = {"k"};
    set.values = {"text"};
    s.apply(1, set);
    Request add;
    add.op = Op::add;
    add.keys = {"k"};
    add.number = 1;
    EXPECT_THROW(s.apply(1, add), StoreError);
}

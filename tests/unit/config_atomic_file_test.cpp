#include "acc/proc/atomic_file.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "acc/util/error.hpp"

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/acc_atomic_XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = opendir(dir.c_str());
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") {
            out.push_back(n);
        }
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST(AtomicFile, CreatesAndReplacesLeavingNoTemporaryFile) {
    TempDir t;
    std::string p = t.path + "/c.yaml";
    acc::proc::write_file_atomically(p, "a: 1\n");
    EXPECT_EQ(read(p), "a: 1\n");
    acc::proc::write_file_atomically(p, "b: 2\n");
    EXPECT_EQ(read(p), "b: 2\n");
    EXPECT_EQ(entries(t.path), std::vector<std::string>{"c.yaml"});
}

TEST(AtomicFile, KeepsTheModeOfTheFileItReplaces) {
    TempDir t;
    std::string p = t.path + "/c.yaml";
    acc::proc::write_file_atomically(p, "a\n");
    chmod(p.c_str(), 0600);
    acc::proc::write_file_atomically(p, "b\n");
    struct stat st {};
    stat(p.c_str(), &st);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AtomicFile, ReadersOfTheOldFileKeepSeeingTheOldContent) {
    // A reader holding the old file open keeps seeing the old content: the new one is a new inode.
    TempDir t;
    std::string p = t.path + "/c.yaml";
    acc::proc::write_file_atomically(p, "old\n");
    std::ifstream held(p);
    acc::proc::write_file_atomically(p, "new\n");
    std::string line;
    std::getline(held, line);
    EXPECT_EQ(line, "old");
    EXPECT_EQ(read(p), "new\n");
}

TEST(AtomicFile, FailureLeavesTheOldFileAndSaysWhy) {
    TempDir t;
    std::string dir = t.path + "/ro";
    acc::proc::make_directories(dir);
    std::string p = dir + "/c.yaml";
    acc::proc::write_file_atomically(p, "old\n");
    if (geteuid() != 0) {  // root ignores directory permissions
        chmod(dir.c_str(), 0500);
        EXPECT_THROW(acc::proc::write_file_atomically(p, "new\n"), acc::Error);
        chmod(dir.c_str(), 0700);
        EXPECT_EQ(read(p), "old\n");
    }
    try {
        acc::proc::write_file_atomically(t.path + "/missing/c.yaml", "x");
        FAIL() << "expected an error";
    } catch (const acc::Error& e) {
        EXPECT_NE(std::string(e.what()).find(t.path + "/missing/c.yaml"), std::string::npos);
    }
    // A folder in the way of the target: rename fails, nothing is left behind.
    acc::proc::make_directories(t.path + "/dir.yaml");
    acc::proc::write_file_atomically(t.path + "/dir.yaml/inner", "x");
    EXPECT_THROW(acc::proc::write_file_atomically(t.path + "/dir.yaml", "x"), acc::Error);
    EXPECT_EQ(entries(t.path), (std::vector<std::string>{"dir.yaml", "ro"}));
}

TEST(AtomicFile, ASymlinkedFileIsUpdatedWhereItLivesAndTheLinkStays) {
    // A config kept in a dotfiles repository: ~/.cache/.../default_config.yaml -> ~/dotfiles/x.yaml.
    TempDir t;
    ASSERT_EQ(mkdir((t.path + "/dotfiles").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((t.path + "/cache").c_str(), 0755), 0);
    std::ofstream(t.path + "/dotfiles/acc.yaml") << "old\n";
    ASSERT_EQ(symlink("../dotfiles/acc.yaml", (t.path + "/cache/default_config.yaml").c_str()), 0);
    ASSERT_EQ(symlink((t.path + "/cache/default_config.yaml").c_str(), (t.path + "/chain.yaml").c_str()), 0);

    acc::proc::write_file_atomically(t.path + "/chain.yaml", "new\n");
    struct stat st {};
    ASSERT_EQ(lstat((t.path + "/cache/default_config.yaml").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link was replaced by a file";
    ASSERT_EQ(lstat((t.path + "/chain.yaml").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(read(t.path + "/dotfiles/acc.yaml"), "new\n");
    EXPECT_EQ(entries(t.path + "/dotfiles"), std::vector<std::string>{"acc.yaml"});  // no temporary left

    // A link to a file that does not exist yet: the file is created, the link kept.
    ASSERT_EQ(symlink("fresh.yaml", (t.path + "/dotfiles/dangling.yaml").c_str()), 0);
    acc::proc::write_file_atomically(t.path + "/dotfiles/dangling.yaml", "made\n");
    EXPECT_EQ(read(t.path + "/dotfiles/fresh.yaml"), "made\n");
    ASSERT_EQ(lstat((t.path + "/dotfiles/dangling.yaml").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));

    // A loop of links: one clear error, nothing written.
    ASSERT_EQ(symlink("loop_b", (t.path + "/loop_a").c_str()), 0);
    ASSERT_EQ(symlink("loop_a", (t.path + "/loop_b").c_str()), 0);
    try {
        acc::proc::write_file_atomically(t.path + "/loop_a", "x");
        FAIL() << "no error for a loop of links";
    } catch (const acc::Error& e) {
        EXPECT_NE(std::string(e.what()).find("Too many levels of symbolic links"), std::string::npos) << e.what();
    }
}

TEST(AtomicFile, MakeDirectoriesAndParent) {
    TempDir t;
    acc::proc::make_directories(t.path + "/a/b/c");
    struct stat st {};
    EXPECT_EQ(stat((t.path + "/a/b/c").c_str(), &st), 0);
    acc::proc::make_directories(t.path + "/a/b/c");  // exists: fine
    acc::proc::write_file_atomically(t.path + "/f", "x");
    EXPECT_THROW(acc::proc::make_directories(t.path + "/f/g"), acc::Error);
    EXPECT_EQ(acc::proc::parent_directory("a/b.yaml"), "a");
    EXPECT_EQ(acc::proc::parent_directory("b.yaml"), "");
    EXPECT_EQ(acc::proc::parent_directory("/b.yaml"), "/");
    EXPECT_EQ(acc::proc::parent_directory("a//b.yaml"), "a");
}

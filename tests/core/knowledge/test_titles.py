"""Clean proposal titles: the question without greetings, names, placeholders, contact details
or sign-offs."""

import pytest

from core.knowledge.titles import clean_title

CASES = [
    ("Hi there, this is <PERSON>, my number is <PHONE_NUMBER>. How much is the travel fee to Irvine? Thanks!",
     "How much is the travel fee to Irvine?"),
    ("Hello! I'm <PERSON> and I want to book a party for 20 on <DATE_TIME>. What's the price per adult?",
     "I want to book a party for 20 on your date. What's the price per adult?"),
    ("I made a transfer yesterday. Why hasn't it arrived?",
     "I made a transfer yesterday. Why hasn't it arrived?"),
    ("Hi, this is <PERSON> from <ORGANIZATION>. Do you cater offices?", "Do you cater offices?"),
    ("hey, do you do vegetarian options", "Do you do vegetarian options"),
    ("Good morning team - my email is <EMAIL_ADDRESS>. Can you come to <LOCATION> on Saturday?",
     "Can you come to your area on Saturday?"),
    ("<PERSON> here. Need a quote for 15 adults", "Need a quote for 15 adults"),
    ("Hi <PERSON>, thanks for the quick reply! so what time does the chef arrive?",
     "What time does the chef arrive?"),
    ("How much is it for kids under 12? You can reach me at <PHONE_NUMBER>. Thanks, <PERSON>",
     "How much is it for kids under 12?"),
    ("Hi", ""),
    ("My name is Ana. Call me at <PHONE_NUMBER> please", ""),
]


@pytest.mark.parametrize(("question", "title"), CASES)
def test_clean_title(question, title):
    assert clean_title(question) == title


def test_a_long_question_keeps_its_questions_and_is_cut_at_a_word():
    story = ("We are planning a big family reunion in the park next to the lake. "
             "Lots of cousins will come, about forty. ")
    assert clean_title(story + "Do you bring the grill?") == "Do you bring the grill?"
    title = clean_title("Can you tell me " + "more and " * 40 + "more?")
    assert len(title) <= 120 and title.endswith("\u2026") and not title[:-1].endswith(" ")

"""The demo business, "Ember Grill Hibachi", a private hibachi chef caterer in San Jose: its
facts and the words of its conversations.

Prices, travel tiers of the cities it serves, the channel and hour mix of its customers,
customer names and streets (all fictional), how customers ask about each KB entry (``ASKS``),
why conversations are escalated (``ESCALATIONS``) and the assistant's and agents' stock
phrases. ``core.demo.conversations`` draws from these; the knowledge base itself is in
``core.demo.knowledge``.
"""

from __future__ import annotations

from core.platform.statuses import Channel

BUSINESS = "Ember Grill Hibachi"
SIZES = {"small": 150, "full": 2700, "large": 5400}  # 30 a day over 90 days is full
DAYS = 90
UTC_OFFSET_H = 7  # the business runs on Pacific time; stored timestamps are naive UTC

ADULT_PRICE, KID_PRICE, PARTY_MINIMUM, DEPOSIT = 60, 30, 600, 100
TRAVEL_FEES = {0: 0, 1: 50, 2: 100, 3: 150}
CITIES = {  # city -> travel tier (matches kb-travel-* entries)
    "San Jose": 0, "Santa Clara": 0, "Sunnyvale": 0, "Mountain View": 0, "Cupertino": 0,
    "Campbell": 0, "Los Gatos": 0, "Milpitas": 0, "Fremont": 0, "Palo Alto": 0,
    "San Francisco": 1, "Oakland": 1, "Berkeley": 1, "San Mateo": 1, "Redwood City": 1,
    "Hayward": 1, "Walnut Creek": 1, "Pleasanton": 1, "Santa Cruz": 1, "Gilroy": 1,
    "Napa": 2, "Vallejo": 2, "Monterey": 2, "Stockton": 2, "Tracy": 2, "Modesto": 2,
    "Sacramento": 3, "Davis": 3, "Santa Rosa": 3, "Petaluma": 3,
}
# The demo's value of SUPPORTLOOP_PII_ALLOW_TERMS (`make run` exports it unless it is set): its own
# names (brand, menu items) and the cities it serves, never scrubbed as a person's name.
PII_ALLOW_TERMS = ",".join(["Ember Grill Hibachi", "Ember Grill", "Ember", "Kobe beef", "Kobe",
                            "Chateaubriand", "Yum Yum sauce", "hibachi", *CITIES])
AREA_CODES = {0: ["408", "669", "650"], 1: ["415", "510", "650", "925", "831"],
              2: ["707", "209", "831"], 3: ["916", "530", "707"]}

MODELS = {  # model -> (USD per 1M input tokens, USD per 1M output tokens)
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
}
AGENTS = ["Jenna Park", "Luis Ortega", "Aiko Tanaka", "Marcus Reed", "Priya Nair"]

CHANNEL_MIX = {Channel.WEB: 30, Channel.SMS: 22, Channel.INSTAGRAM: 15, Channel.EMAIL: 13,
               Channel.FACEBOOK: 10, Channel.PHONE: 10}
# local hour weights 0..23: quiet nights, lunch bump, busy evenings
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3.5, 4, 4.5,
                5, 4.5, 4, 4, 4.5, 5.5, 7, 8, 8, 7, 5, 2.5]
WEEKDAY_WEIGHTS = [0.85, 0.8, 0.85, 0.95, 1.15, 1.35, 1.3]  # Monday .. Sunday

FIRST_NAMES = [
    "Maria", "James", "Wei", "Priya", "Carlos", "Aisha", "Kenji", "Olivia", "Mohammed", "Sofia",
    "Daniel", "Mei", "Rahul", "Emily", "Jose", "Fatima", "Hiroshi", "Grace", "Luis", "Ananya",
    "Michael", "Ngozi", "Thanh", "Sarah", "Diego", "Yuki", "Kwame", "Jessica", "Arjun", "Leila",
    "David", "Camila", "Minh", "Rachel", "Omar", "Hannah", "Tomasz", "Ashley", "Jin", "Valentina",
    "Brandon", "Chiara", "Kofi", "Lauren", "Ravi", "Elena", "Tyler", "Sakura", "Mateo", "Nadia",
]
LAST_NAMES = [
    "Gonzalez", "Smith", "Zhang", "Patel", "Hernandez", "Okafor", "Tanaka", "Johnson", "Rahman",
    "Rossi", "Kim", "Chen", "Sharma", "Williams", "Ramirez", "Hassan", "Yamamoto", "Nguyen",
    "Garcia", "Iyer", "Brown", "Adeyemi", "Tran", "Miller", "Lopez", "Sato", "Mensah", "Davis",
    "Reddy", "Haddad", "Wilson", "Torres", "Pham", "Cohen", "Khan", "Schmidt", "Kowalski",
    "Martinez", "Park", "Bianchi", "Asante", "Anderson", "Singh", "Petrov", "Thompson", "Ito",
    "Flores", "Novak", "O'Brien", "Castillo",
]
STREETS = [
    "Oak St", "Maple Ave", "Alvarado Rd", "Sunnyslope Dr", "Bascom Ave", "Lincoln Ave",
    "Willow Glen Way", "Mission Blvd", "Cedar Ln", "Redwood Ct", "Park Ave", "Stevens Creek Blvd",
    "El Camino Real", "Meridian Ave", "Hillview Dr", "Valley Oak Cir", "Magnolia Way",
    "Almaden Expy", "Chestnut St", "Vista Del Mar", "Pine Ridge Rd", "Laurel Dr", "Bay St",
    "Foothill Blvd", "Camino Alto",
]
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "comcast.net"]
TEST_CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881"]

# Customer phrasings per KB entry (different from demo_eval.jsonl, which stays held out),
# with a popularity weight. Entries not listed are asked with a generic phrasing, rarely.
ASKS: dict[str, tuple[float, list[str]]] = {
    "kb-price-adult": (10, ["How much is it per person?", "what's your pricing for adults",
                            "What do you charge per guest?", "price per head?",
                            "Can you tell me how much a hibachi party costs per adult?"]),
    "kb-price-kids": (6, ["Do kids cost less?", "what's the price for children",
                          "are little ones free? we have a 3 year old and a 7 year old",
                          "How much for kids under 12?"]),
    "kb-party-minimum": (6, ["Is there a minimum number of guests?", "we're a small group of 7, is that ok",
                             "what's the minimum order", "Do you have a minimum for parties?"]),
    "kb-price-example": (4, ["Can you give me a ballpark for 15 adults and 3 kids?",
                             "what would 20 people cost total", "rough total for 10 adults 5 kids?"]),
    "kb-upgrade-filet": (4, ["Do you offer filet mignon?", "how much to upgrade to filet",
                             "is filet available as a protein"]),
    "kb-upgrade-lobster": (4, ["Do you do lobster?", "lobster tail price?",
                               "Can we upgrade to lobster for a few guests?"]),
    "kb-upgrade-scallops": (2, ["do you have scallops", "What does the scallop upgrade cost?"]),
    "kb-extra-protein": (2, ["can guests get more than 2 proteins", "How much for an extra protein?"]),
    "kb-appetizers": (3, ["Do you offer appetizers?", "can we add gyoza", "any add ons like edamame?"]),
    "kb-holiday-fee": (2, ["Are you open on Father's Day? any extra cost?",
                           "do you work on New Year's Eve"]),
    "kb-second-chef": (3, ["We have 40 guests, how does that work?",
                           "how many people can one chef cook for"]),
    "kb-discounts": (2, ["Any discounts available?", "do you have a military discount"]),
    "kb-tipping": (4, ["Is tip included?", "how much should we tip the chef",
                       "Do we tip the chef separately?"]),
    "kb-payment-methods": (4, ["What forms of payment do you accept?", "can I pay cash on the day",
                               "do you take credit cards"]),
    "kb-gift-cards": (2, ["Do you sell gift cards?", "I want to gift a party to my sister, possible?"]),
    "kb-corporate": (2, ["Do you do corporate events?", "Looking for an office party caterer for 30"]),
    "kb-travel-fee": (7, ["Do you charge for travel?", "how does the travel fee work",
                          "What's the delivery/travel charge?"]),
    "kb-travel-free-cities": (3, ["We're in Campbell, is there a travel fee?",
                                  "Is Mountain View within your free area?"]),
    "kb-travel-50-cities": (3, ["How much to come to Berkeley?", "travel fee for San Mateo?"]),
    "kb-travel-100-cities": (2, ["Do you come to Davis? how much?", "trip charge to Monterey?"]),
    "kb-service-area": (5, ["What areas do you serve?", "do you come to Santa Rosa",
                            "Do you service the East Bay?"]),
    "kb-parking": (1, ["where should the chef park?", "we have a gated driveway, is that ok"]),
    "kb-booking-steps": (8, ["How do I book?", "how do we make a reservation",
                             "What's the process to book a chef?", "how do I sign up for a date"]),
    "kb-deposit": (5, ["Is there a deposit?", "how much is the deposit", "do I pay anything upfront?"]),
    "kb-cancellation": (5, ["What's your cancellation policy?", "what if we need to cancel",
                            "Is the deposit refundable?"]),
    "kb-reschedule": (3, ["Can we change the date later?", "we may need to reschedule, is that allowed"]),
    "kb-final-headcount": (3, ["When do you need the final head count?",
                               "can I add a few guests last minute"]),
    "kb-lead-time": (4, ["How far in advance should we book?", "can you do a party tomorrow?"]),
    "kb-availability": (8, ["Do you have availability on Saturday the 21st?",
                            "Are you free next Sunday evening?", "is the 3rd of next month open",
                            "Any openings this Friday night?"]),
    "kb-start-times": (3, ["What times can the party start?", "can we start at 7:30pm"]),
    "kb-contact-hours": (1, ["What are your hours?", "can I call you tonight"]),
    "kb-modify-booking": (3, ["I need to change the time of my booking",
                              "how do I update my order"]),
    "kb-choose-proteins": (2, ["do all guests need to choose proteins now?",
                               "when do I send everyone's meat choices"]),
    "kb-chef-request": (1, ["can I request the same chef as last year?"]),
    "kb-setup-space": (5, ["How much space do you need?", "will the grill fit on our patio",
                           "what kind of space does the chef need"]),
    "kb-what-we-bring": (4, ["What do you bring?", "do we need to provide anything for the grill"]),
    "kb-tables-chairs": (4, ["Do you provide tables?", "do I need to rent chairs"]),
    "kb-plates-utensils": (2, ["Do you bring plates?", "do you provide chopsticks"]),
    "kb-chef-arrival": (3, ["When does the chef arrive?", "how early does the chef come to set up"]),
    "kb-duration": (4, ["How long is the party?", "how long does the chef stay"]),
    "kb-cleanup": (3, ["Do you clean up?", "Who cleans up after"]),
    "kb-rain-plan": (5, ["What happens if it rains?", "whats the bad weather plan",
                         "rain in the forecast, are we still on?"]),
    "kb-indoor": (3, ["Can you cook indoors?", "can the chef set up in our living room"]),
    "kb-venues": (2, ["can you come to a park for the party", "Do you cook at Airbnbs or venues?"]),
    "kb-lighting": (1, ["our party is at night, anything we need?"]),
    "kb-overtime": (2, ["what if we start late", "Can the chef stay extra time?"]),
    "kb-smoke-noise": (1, ["Is it smoky?", "will our HOA complain"]),
    "kb-pets": (1, ["We have a dog, is that a problem?"]),
    "kb-leftovers": (1, ["Do we get leftovers?"]),
    "kb-menu-included": (7, ["What's on the menu?", "what's included in the meal",
                             "What food comes with the party?"]),
    "kb-proteins": (6, ["What proteins do you have?", "what meat options are there",
                        "Do you have salmon?"]),
    "kb-sauces": (3, ["Do you bring yum yum sauce?", "what sauces come with it"]),
    "kb-fried-rice": (2, ["how is the fried rice made?", "Does the rice have egg in it?"]),
    "kb-noodles": (3, ["Do you have noodles?", "can we swap rice for noodles"]),
    "kb-kids-menu": (3, ["what do kids eat?", "Is there a kids menu?"]),
    "kb-drinks-byob": (4, ["Do you provide drinks?", "can we bring our own sake",
                           "is alcohol included"]),
    "kb-dessert": (2, ["Do you do dessert?", "can we bring our own cake"]),
    "kb-entertainment": (3, ["Does the chef do tricks?", "is there a show with the dinner"]),
    "kb-birthday": (3, ["It's for a birthday, anything special?", "We're celebrating my dad's 60th!"]),
    "kb-allergy-gluten": (4, ["Do you have gluten free options?", "one guest is gluten free, ok?"]),
    "kb-allergy-shellfish": (4, ["We have a shellfish allergy in the group",
                                 "my wife is allergic to shellfish, is that a problem?"]),
    "kb-allergy-soy": (2, ["Can you do soy free?", "one kid has a soy allergy"]),
    "kb-allergy-nuts-sesame": (2, ["do you use nuts?", "Sesame allergy - can you accommodate?"]),
    "kb-dairy-egg": (2, ["Can you cook dairy free?", "one guest can't have eggs"]),
    "kb-vegetarian": (5, ["Do you have vegetarian options?", "any vegan options?",
                          "we have 3 vegetarians coming"]),
    "kb-halal": (2, ["Do you have halal meat?", "is the beef halal"]),
    "kb-low-carb": (1, ["I'm low carb, any options?"]),
    "kb-allergy-disclaimer": (1, ["how do you handle food allergies?"]),
    "kb-complaints": (0.5, ["I'd like to give feedback about our party"]),
    "kb-refund-timing": (1, ["When will my deposit refund show up?"]),
    "kb-insurance": (1, ["Are you licensed and insured?"]),
    "kb-referral": (1, ["do you have referral discounts"]),
    "kb-weddings": (1, ["Do you do weddings?"]),
    "kb-about": (1, ["Where are you located?", "are you a restaurant?"]),
}

ESCALATIONS = {  # reason -> (weight, customer message templates)
    "pricing exception": (3, [
        "We're a group of {adults}, can you do a better price than $60 a head?",
        "Could you waive the travel fee? We're just past the {city} line.",
        "Is there any way to get the party minimum lowered? We're only {small} people.",
    ]),
    "complaint": (2, [
        "Our chef arrived 45 minutes late to our party on {day} and the rice was cold. Not happy.",
        "We were charged twice for the deposit, please fix this.",
        "The chef forgot the lobster tails we paid for. I want a refund for those.",
    ]),
    "complex request": (2, [
        "We're planning a rehearsal dinner for {big} guests at a winery in {city}, two seatings. "
        "Can you do it?",
        "Can you do a surprise party at a rented Airbnb, set up on a rooftop terrace, with a halal menu?",
        "We need three chefs at three different houses the same evening, is that possible?",
    ]),
    "low confidence": (2, [
        "Can the chef make sushi rolls too?",
        "Do you rent out the grill without a chef?",
        "Can you cook for a boat party on the bay?",
    ]),
    "asked for a human": (2, [
        "Can I talk to a real person please?",
        "I'd rather speak with someone on your team, please call me.",
    ]),
    "date unavailable": (1, [
        "The booking page says {day} is full but we really need that date. Anything you can do?",
    ]),
}
# Some angry customers swear: enrichment flags these messages (core.enrichment.enrich), they stay out of
# training data, and the answers to them enter the review queue.
SWEARING = ["This is fucking ridiculous. ", "What the fuck? ", "Seriously, this is shitty service. "]
HANDOFF_TEXT = ("I want to make sure you get the right answer, so I'm passing this to our team. "
                "Someone will reply here shortly.")
AGENT_REPLIES = {
    "pricing exception": "Hi {first}, this is {agent} from Ember Grill. For {adults} guests I can take "
    "$5 off per adult on a weekday; for weekends our regular price applies. Want me to hold a date?",
    "complaint": "Hi {first}, this is {agent}, the manager at Ember Grill. I'm very sorry about this. "
    "I've issued a partial refund to your card and added a $50 credit to your account.",
    "complex request": "Hi {first}, {agent} here from our events team. We can definitely plan this. "
    "I'll e-mail you a custom quote today and we can set up a quick call.",
    "low confidence": "Hi {first}, {agent} from Ember Grill here. Good question: we only offer our "
    "hibachi menu with a chef on site, but I'm happy to suggest options for your event.",
    "asked for a human": "Hi {first}, this is {agent} from Ember Grill. Happy to help, what can I do "
    "for you?",
    "date unavailable": "Hi {first}, {agent} here. I found a chef who can do {day} at 4:00 pm or "
    "7:30 pm. Shall I hold one for you?",
}
GREETINGS = ["Hi!", "Hello,", "hey", "Hi there,", "Good evening,", "Hey there!", "Hello!", "Hi,"]
THANKS = ["Thanks!", "thank you!!", "Perfect, thanks", "great thanks", "ok got it, thank you",
          "Awesome, appreciate it", "Sounds good!"]
ANSWER_PREFIX = ["", "Great question! ", "Thanks for reaching out{name}! ", "Happy to help{name}. ",
                 "Sure! ", "Good question{name}. "]
ANSWER_SUFFIX = ["", " Anything else I can help with?", " Let me know if you have other questions!",
                 " Would you like me to check a date for you?"]

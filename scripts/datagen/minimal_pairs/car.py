"""Minimal pairs for cars, driving and maintenance: dashboard warning lights, tyres, brakes, driver
tiredness, winter driving, child car seats, engine oil and coolant, and breakdowns. Each triple holds a
first-person question, correct advice and subtly wrong advice written in the same sentence frame and
tone, so the two answers differ only in the short span that carries the fact. All text was written for
this project.
"""

from __future__ import annotations

PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "A red oil-can light came on while I was on the motorway. Can I keep going to my exit ten miles away?",
        "Stop somewhere safe as soon as possible and turn the engine off, since a red oil pressure warning can mean engine damage within minutes.",
        "Drive gently to your exit and turn the engine off there, since a red oil pressure warning can mean engine damage within weeks.",
    ),
    (
        "My engine management light came on and stays steady, but the car drives normally. What should I do?",
        "A steady amber engine light means getting the codes read soon, but if it starts flashing, stop driving, as that means a serious misfire.",
        "A steady amber engine light means getting the codes read soon, and if it starts flashing, carry on, as that only means the fault is logged.",
    ),
    (
        "The red battery warning light came on while I was driving home at night. Is it safe to carry on?",
        "That light usually means the battery is no longer being charged, so switch off spare electrics and stop somewhere safe before it runs flat.",
        "That light usually means the battery is being charged extra hard, so switch off spare electrics and carry on home while it charges.",
    ),
    (
        "The temperature gauge shot up to red and steam is coming from the bonnet. How do I check the coolant?",
        "Stop safely, switch off the engine, and open the coolant cap only after the engine has cooled down completely.",
        "Stop safely, switch off the engine, and open the coolant cap right away while the engine is still hot.",
    ),
    (
        "My brake warning light came on and the pedal feels softer than usual. Can I drive it to the garage next week?",
        "A soft pedal with the brake warning light can mean a fluid leak, so stop driving the car and have it taken to a garage on a truck.",
        "A soft pedal with the brake warning light usually means worn pads, so keep driving the car and have it taken to a garage next week.",
    ),
    (
        "The tyre pressure warning light came on this morning, but the tyres look normal to me. Do I need to do anything?",
        "Check all four pressures with a gauge soon, because a tyre can lose a lot of air before it looks noticeably flat.",
        "Check all four pressures at your next service, because a tyre cannot lose a lot of air before it looks noticeably flat.",
    ),
    (
        "The ABS warning light is on, but my brakes seem to work as usual. Is the car safe to drive?",
        "Normal braking usually still works with the ABS light on, but the anti-lock function may not, so brake early and get it checked soon.",
        "Normal braking usually still works with the ABS light on, and the anti-lock function does too, so brake as usual and get it checked later.",
    ),
    (
        "The airbag warning light has stayed on since I had my driver's seat adjusted. Does it matter?",
        "An airbag light that stays on can mean the airbags will not deploy in a crash, so have the system diagnosed as soon as possible.",
        "An airbag light that stays on means the airbags will still deploy normally in a crash, so have the system diagnosed at your next service.",
    ),
    (
        "How do I tell when my tyres are too worn and need replacing?",
        "Check the tread depth at several points across the width, and replace the tyre once any point approaches the legal minimum depth.",
        "Check the tread depth at the middle of the tread only, and replace the tyre once it approaches the legal minimum depth.",
    ),
    (
        "I had a puncture and now have the thin space-saver spare on. How should I drive on it?",
        "Stay under the maximum speed printed on the spare, usually about 50 mph, and get a full-size tyre fitted within a few days.",
        "Stay under the normal motorway limit on the spare, which is rated like a full tyre, and get a full-size tyre fitted within a few days.",
    ),
    (
        "I'm only buying two new tyres this time. Should they go on the front or the back of my car?",
        "Most tyre makers recommend fitting the newer pair on the rear axle, because grip at the back helps stop the car spinning in the wet.",
        "Most tyre makers recommend fitting the newer pair on the front axle, because grip at the front helps stop the car spinning in the wet.",
    ),
    (
        "I found a nail stuck in the sidewall of my tyre, but it is still holding air. Can it be patched?",
        "Damage to the sidewall generally cannot be repaired safely, so the tyre should be replaced even if it is holding air now.",
        "Damage to the sidewall can generally be repaired with a plug, so the tyre can stay on as long as it is holding air now.",
    ),
    (
        "How often should I check my tyre pressures, and when is the best time to do it?",
        "Check them about once a month and before long trips, with the tyres cold, because pressure drops slowly and you cannot see it.",
        "Check them about once a month and before long trips, with the tyres warm from driving, because pressure drops slowly and you cannot see it.",
    ),
    (
        "My brakes make a high-pitched squeal every time I press them gently. Is that something to worry about?",
        "A regular squeal can come from the pads' built-in wear indicator, so have them inspected soon, before it turns into grinding.",
        "A regular squeal comes from the pads' normal bedding-in process, so have them inspected later, if it turns into grinding.",
    ),
    (
        "My car is five years old and the brake fluid has never been changed. How often should it be done?",
        "Follow your service book, typically every two years, because brake fluid absorbs moisture that lowers its boiling point.",
        "Follow your service book, typically every ten years, because brake fluid does not absorb moisture that lowers its boiling point.",
    ),
    (
        "I'm driving down a long, steep mountain road. How should I keep my speed under control?",
        "Change down to a lower gear for engine braking, and use the brakes in short firm presses so they do not overheat.",
        "Change into neutral to spare the engine and fuel, and use the brakes in short firm presses so they do not overheat.",
    ),
    (
        "My car pulls to one side when I brake hard. Can it wait until the service in two months?",
        "Pulling under braking can mean a sticking caliper or uneven pads, so have the brakes inspected within days, not weeks.",
        "Pulling under braking is usually caused by road camber, so have the brakes inspected within weeks, not days.",
    ),
    (
        "I'm getting drowsy on a long motorway drive. Will opening the window and turning up the radio keep me alert?",
        "Cold air and loud music only mask tiredness briefly, so leave at the next safe stop, have a coffee and take a short nap.",
        "Cold air and loud music keep tiredness away reliably, so carry on to your planned stop, then have a coffee and take a short nap.",
    ),
    (
        "I have a six-hour drive ahead of me tomorrow. How often should I stop for a break?",
        "A widely used guideline is a break of at least 15 minutes every two hours of driving, and sooner if you start feeling tired.",
        "A widely used guideline is a break of at least 15 minutes every five hours of driving, and sooner if you start feeling tired.",
    ),
    (
        "I slept badly and have an early drive to the airport. Will a strong coffee before I leave make me safe to drive?",
        "Caffeine can help for a while but cannot make up for lost sleep, so if you feel very tired, postpone the drive or share it.",
        "Caffeine can help for a while and fully makes up for lost sleep, so if you feel very tired, drink a second cup first.",
    ),
    (
        "I've started an antihistamine from the chemist for hay fever and have a long drive tomorrow. Could it affect my driving?",
        "Some antihistamines cause drowsiness, including ones sold over the counter, so read the leaflet for any driving warning first.",
        "Only prescription antihistamines cause drowsiness, not ones sold over the counter, so read the leaflet for any driving warning first.",
    ),
    (
        "My windscreen is frozen solid and I'm running late. Can I pour a kettle of hot water over it?",
        "Skip the kettle, since the sudden heat can crack a frozen windscreen, and use the blower with a scraper or de-icer spray instead.",
        "Use the kettle, since the sudden heat cannot crack a laminated windscreen, and finish off with a scraper or de-icer spray afterwards.",
    ),
    (
        "My car has ABS. If I hit an icy patch and need to stop quickly, how should I use the brake pedal?",
        "Press the brake firmly and keep pressing while you steer, letting the ABS pulse the brakes for you rather than pumping the pedal.",
        "Pump the brake pedal rapidly while you steer, helping the ABS pulse the brakes for you rather than holding the pedal down.",
    ),
    (
        "Snow is forecast and I have to drive to work. How much following distance should I leave?",
        "Leave far more room than usual, because stopping distances on snow or ice can be up to ten times longer than on a dry road.",
        "Leave a little more room than usual, because stopping distances on snow or ice are only slightly longer than on a dry road.",
    ),
    (
        "My car is stuck in snow and the wheels keep spinning. What's the best way to get it moving?",
        "Pull away in second gear with gentle throttle, because less wheelspin lets the tyres find grip rather than polishing the snow.",
        "Pull away in first gear with high revs, because faster wheelspin lets the tyres find grip by melting the snow.",
    ),
    (
        "I'm heading off on a long trip in freezing weather. What should I put in the windscreen washer bottle?",
        "Fill it with screen wash that contains antifreeze, because it will not freeze in the pipes and nozzles the way plain water can.",
        "Fill it with water and a little washing-up liquid, because it will not freeze in the pipes and nozzles the way plain water can.",
    ),
    (
        "My toddler's legs now touch the back seat in her rear-facing car seat. Should I turn her to face forward?",
        "Keep her rear-facing until she reaches the seat's height or weight limit, since bent legs against the seat are safe for toddlers.",
        "Keep her rear-facing until her feet reach the seat back, since bent legs against the seat are unsafe for toddlers.",
    ),
    (
        "It's freezing out, so I want to put my baby in a thick padded snowsuit in his car seat. Is that okay?",
        "Take the snowsuit off before buckling up, as thick padding squashes in a crash and leaves the harness loose; lay a blanket over the straps.",
        "Keep the snowsuit on when buckling up, as thick padding cushions a crash and keeps the harness snug; lay a blanket over the straps.",
    ),
    (
        "Can I put my baby's rear-facing car seat in the front passenger seat of my car?",
        "Only with the passenger airbag switched off, as a rear-facing seat sits close enough for an inflating airbag to badly hurt the baby.",
        "Only with the passenger seat pushed fully back, as a rear-facing seat then sits far enough from an inflating airbag to protect the baby.",
    ),
    (
        "How tight should the harness on my four-year-old's car seat be?",
        "Tight enough that you cannot pinch a fold of strap at the shoulder, so it holds your child firmly against the seat in a crash.",
        "Loose enough to slide a flat hand under the straps at the chest, so it holds your child firmly against the seat in a crash.",
    ),
    (
        "A friend offered me her old child car seat, which was in a crash but looks undamaged. Is it safe to use?",
        "A seat that has been in a crash should be replaced, because damage to its shell or straps can be invisible to the eye.",
        "A seat that has been in a crash can be reused if it looks intact, because damage to its shell or straps is visible to the eye.",
    ),
    (
        "I've never checked my own engine oil before. How do I read the dipstick properly?",
        "Park on level ground with the engine off for a few minutes, pull and wipe the dipstick, push it fully back in, then read the level.",
        "Park on level ground with the engine running so the oil circulates, pull and wipe the dipstick, push it fully back in, then read the level.",
    ),
    (
        "I topped up my oil and now the dipstick shows it well above the maximum mark. Should I do anything?",
        "Get the extra drained out before driving far, since oil well above the maximum can froth up and damage seals.",
        "Get the extra drained out at your next service, since oil well above the maximum cannot froth up or damage seals.",
    ),
    (
        "My coolant level is below the minimum line and I'm miles from a shop. Can I top it up with tap water?",
        "Plain water is acceptable for a short emergency top-up, but the correct coolant mix is what protects against freezing and corrosion.",
        "Plain water is acceptable as a permanent top-up, as it works as well as the coolant mix to protect against freezing and corrosion.",
    ),
    (
        "I mostly use my car for short trips around town. How often should I change the engine oil?",
        "Follow the manufacturer's schedule for severe use, since frequent short trips are harder on oil than steady motorway driving.",
        "Follow the manufacturer's schedule for normal use, since frequent short trips are easier on oil than steady motorway driving.",
    ),
    (
        "The shop has shelves of different engine oils. Which one should I buy for my car?",
        "Buy oil matching the grade and specification in your handbook, since thicker oil than listed can protect the engine less well.",
        "Buy oil thicker than the grade and specification in your handbook, since thicker oil than listed can protect the engine better.",
    ),
    (
        "My car broke down and I've pulled onto the motorway hard shoulder. Should I wait inside the car for recovery?",
        "Wait behind the safety barrier with your passengers, since a car stopped on the hard shoulder can be hit by passing traffic.",
        "Wait inside the car with your passengers, belts fastened, since a car stopped on the hard shoulder shields you from passing traffic.",
    ),
    (
        "I've broken down on a quiet country road at night. Where should I put my warning triangle?",
        "Place it well behind the car, at least 45 metres back on your side of the road, so approaching drivers have time to slow down.",
        "Place it close behind the car, about two metres back on your side of the road, so approaching drivers have time to slow down.",
    ),
    (
        "My battery went flat after the car sat unused for two weeks. After a jump-start, how long should I drive it?",
        "Drive for at least half an hour at steady speeds, since a short run cannot replace much of the charge a flat battery has lost.",
        "Drive for about five minutes around the block, since a short run can replace most of the charge a flat battery has lost.",
    ),
    (
        "I've just put petrol into my diesel car at the pump and haven't started it yet. Should I drive it to a garage?",
        "Keep the engine off and have the tank drained where the car stands, as running it even briefly can damage the pump and injectors.",
        "Start the engine and have the tank drained at the nearest garage, as running it briefly cannot damage the pump and injectors.",
    ),
)
